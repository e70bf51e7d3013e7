"""Quantities from KAZOO documents (docs/kazoo.md): what one document adds to `{category: {item: n}}`.

The same rules, in JavaScript, are the `bookkeeper_services/quantify` view
(views/bookkeeper_services/views/quantify/map.js); a test keeps the two in agreement. Rules: deleted documents and
documents with a falsy `enabled` count nothing; users count by `priv_level` (default `user`, KAZOO's Erlang path;
its JS emits a null key), devices by `device_type` (default `sip_device`); `limits` counts its trunk values; numbers
count by carrier module and feature, and by classifier unless they have the `local` feature; `billing` counters add
up as given.
Apps in the apps store give negative substitutes in `user_apps` (-1 all users, -2 admins) that
`resolve_substitutes` replaces once the account's totals are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

Quantities = dict[str, dict[str, int]]

CLASSIFIERS: tuple[tuple[str, str], ...] = (
    ("tollfree_us", r"^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$"),
    ("toll_us", r"^\+1(900\d{7})$"),
    ("emergency", r"^(911|922|933|988|833|811|711|999)$"),
    (
        "caribbean",
        r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869"
        r"|758|784|721|868|649|340)\d{7})$",
    ),
    ("did_us", r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$"),
    ("international", r"^\+([2-9]\d{7,})$"),
    ("unknown", r"^(.*)$"),
)
TRUNKS = ("twoway_trunks", "inbound_trunks", "outbound_trunks")
ALL_USERS, ADMINS = -1, -2


def _count(value: Any) -> int | None:
    """A whole JSON number, else None (the view skips anything else the same way)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    return int(value)


def classify(number: str, classifiers: Iterable[tuple[str, str]] = CLASSIFIERS) -> str | None:
    """The first classifier whose regex matches the E.164 number."""
    return next((name for name, regex in classifiers if re.search(regex, number)), None)


def _features(doc: Mapping[str, Any]) -> list[str]:
    features = doc.get("pvt_features") or {}
    return list(features) if isinstance(features, (Mapping, list)) else []


def _truthy(value: Any) -> bool:
    """JavaScript truthiness, so Python and the view skip the same documents."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return not (value is None or value is False or value == "" or (number and value == 0))


def _apps(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, int]]:
    apps = doc.get("apps")
    blacklist = doc.get("blacklist")
    blacklisted = blacklist if isinstance(blacklist, list) else []
    for app_id, app in apps.items() if isinstance(apps, Mapping) else ():
        if app_id in blacklisted or not isinstance(app, Mapping):
            continue
        name = app.get("name") or app_id
        allowed = app.get("allowed_users")
        users = {"all": ALL_USERS, "admins": ADMINS}.get(allowed) if isinstance(allowed, str) else None
        if allowed == "specific":
            users = len(app["users"]) if isinstance(app.get("users"), list) else 0
        if users:
            yield "user_apps", name, users
        yield "account_apps", name, 1


def _malformed(value: Any) -> bool:
    """A name field that is there but not text: the document is poison and counts nothing for it."""
    return value is not None and not isinstance(value, str)


def problems(doc: Mapping[str, Any]) -> list[str]:
    """What is malformed in a billable document (`field: problem`), for logs and metrics; [] if it is sound.
    Malformed values count nothing (here and in the view); the rest of the document still counts."""
    kind = doc.get("pvt_type") or doc.get("_id")
    if not isinstance(kind, str):
        return [f"pvt_type: not a string: {kind!r}"]
    found = []
    name_fields = {"user": "priv_level", "device": "device_type", "number": "pvt_module_name"}
    if kind in name_fields and _malformed(doc.get(name_fields[kind])):
        found.append(f"{name_fields[kind]}: not a string: {doc[name_fields[kind]]!r}")
    if kind == "limits":
        for trunk in TRUNKS:
            if trunk in doc and ((n := _count(doc[trunk])) is None or n < 0):
                found.append(f"{trunk}: not a whole number ≥ 0: {doc[trunk]!r}")
    billing = doc.get("billing")
    if billing is not None and not isinstance(billing, Mapping):
        found.append(f"billing: not an object: {billing!r}")
    elif isinstance(billing, Mapping):
        found += [f"billing.{k}: not a whole number: {v!r}" for k, v in billing.items() if _count(v) is None]
    return found


def _emissions(doc: Mapping[str, Any], classifiers: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str, int]]:
    kind = doc.get("pvt_type") or doc.get("_id")
    if kind == "user":
        if _malformed(doc.get("priv_level")):
            return
        yield "users", doc.get("priv_level") or "user", 1
        qubicle = doc.get("qubicle")
        if isinstance(qubicle, Mapping):
            recipient = qubicle.get("recipient")
            if isinstance(recipient, Mapping) and _truthy(qubicle.get("enabled")):
                yield "qubicle", (recipient.get("offering") or "basic") + "_recipient", 1
    elif kind == "device":
        if _malformed(doc.get("device_type")):
            return
        yield "devices", doc.get("device_type") or "sip_device", 1
    elif kind == "limits":
        for trunk in TRUNKS:
            n = _count(doc.get(trunk))
            if n and n > 0:
                yield "limits", trunk, n
    elif kind == "whitelabel":
        yield "branding", "whitelabel", 1
    elif kind == "dedicated_ip":
        yield "ips", "dedicated", 1
    elif kind == "apps_store":
        yield from _apps(doc)
    elif kind == "number":
        if doc.get("pvt_module_name") and not _malformed(doc["pvt_module_name"]):
            yield "number_carriers", doc["pvt_module_name"], 1
        features = _features(doc)
        for feature in features:
            yield "number_services", feature, 1
        if "local" not in features:
            klass = classify(str(doc.get("_id", "")), classifiers)
            if klass:
                yield "phone_numbers", klass, 1
    elif kind == "qubicle_queue":
        yield "qubicle", (doc.get("pvt_offering") or "basic") + "_queue", 1
    elif kind == "vmbox":
        yield "voicemails", "mailbox", 1
        if _truthy(doc.get("transcribe")):
            yield "voicemails", "transcription", 1
    elif kind == "faxbox":
        yield "faxes", "mailbox", 1
    elif kind == "conference":
        yield "conferences", "conference", 1
    billing = doc.get("billing")
    if isinstance(billing, Mapping):
        for key, value in billing.items():
            n = _count(value)
            if n:
                yield "billing", key, n


def quantities_of(doc: Mapping[str, Any], classifiers: Iterable[tuple[str, str]] = CLASSIFIERS) -> Quantities:
    """What one KAZOO document contributes to its account's quantities (zero for deleted or disabled docs)."""
    if _truthy(doc.get("pvt_deleted")) or ("enabled" in doc and not _truthy(doc["enabled"])):
        return {}
    out: Quantities = {}
    for category, item, n in _emissions(doc, tuple(classifiers)):
        items = out.setdefault(category, {})
        items[item] = items.get(item, 0) + n
    return out


def add_quantities(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]) -> Quantities:
    """Item-wise sum."""
    out: Quantities = {c: dict(items) for c, items in a.items()}
    for category, items in b.items():
        mine = out.setdefault(category, {})
        for item, n in items.items():
            mine[item] = mine.get(item, 0) + n
    return out


def subtract_quantities(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]) -> Quantities:
    """Item-wise a − b: the change a document update makes is `quantities_of(new) − quantities_of(old)`."""
    return add_quantities(a, {c: {i: -n for i, n in items.items()} for c, items in b.items()})


def apply_manual(account: Mapping[str, Mapping[str, int]], manual: Mapping[str, Mapping[str, int]]) -> Quantities:
    """Manual quantities replace account quantities item by item (`kz_services_quantities:item/3`)."""
    out: Quantities = {c: dict(items) for c, items in account.items()}
    for category, items in manual.items():
        out.setdefault(category, {}).update(items)
    return out


def resolve_substitutes(quantities: Mapping[str, Mapping[str, int]]) -> Quantities:
    """Replace `user_apps` substitutes (-1: users.user + users.admin, -2: users.admin) and drop zeros."""
    users = quantities.get("users", {})
    values = {ALL_USERS: users.get("user", 0) + users.get("admin", 0), ADMINS: users.get("admin", 0)}
    out: Quantities = {}
    for category, items in quantities.items():
        for item, n in items.items():
            n = values.get(n, n) if category == "user_apps" and n < 0 else n
            if n:
                out.setdefault(category, {})[item] = n
    return out


def from_view_rows(rows: Iterable[Mapping[str, Any]]) -> Quantities:
    """`bookkeeper_services/quantify` rows reduced with group_level=2 (key `[category, item]`) -> quantities."""
    out: Quantities = {}
    for row in rows:
        category, item = row["key"]
        out.setdefault(category, {})[item] = out.get(category, {}).get(item, 0) + row["value"]
    return out


def cascade_sum(accounts: Iterable[Mapping[str, Mapping[str, int]]]) -> Quantities:
    """The cascade quantities of an account: the sum of its descendants' own quantities, items under 1 skipped
    (the `services/cascade_quantities` view's rule)."""
    out: Quantities = {}
    for quantities in accounts:
        out = add_quantities(out, {c: {i: n for i, n in items.items() if n >= 1} for c, items in quantities.items()})
    return out


def kazoo42_quantities(
    ledger_rows: Iterable[Mapping[str, Any]], account_doc: Mapping[str, Any], plan_categories: Mapping[str, Any]
) -> Quantities:
    """The categories KAZOO 4.2 counts besides the documents (its `services.modules`, docs/kazoo.md), each replacing
    its category as 4.2's `reset_category` does:

    * `ledgers.<service>`: minus a negative total of `ledgers/total_by_service_legacy` (grouped, this month), in
      units (`kz_service_ledgers`); services in credit count nothing;
    * `ui_apps.<app name>`: 1 per app of the account document's `ui_apps` in use: `allowed_users` `all` or
      `admins`, or `specific` (the default) with at least one user (`kz_service_ui_apps`);
    * `ratedeck.<id>`: 1 when the merged plan has exactly one item under `ratedeck` (`kz_service_ratedeck`).
    """
    out: Quantities = {"ledgers": {}, "ui_apps": {}, "ratedeck": {}}
    for row in ledger_rows:
        value = row.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            out["ledgers"][str(row.get("key"))] = int(-value)
    apps = account_doc.get("ui_apps")
    for app in apps.values() if isinstance(apps, Mapping) else ():
        if not isinstance(app, Mapping) or not isinstance(app.get("name"), str):
            continue
        allowed, users = app.get("allowed_users", "specific"), app.get("users") or []
        if allowed in ("all", "admins") or (allowed == "specific" and isinstance(users, list) and users):
            out["ui_apps"][app["name"]] = 1
    ratedecks = list(plan_categories.get("ratedeck") or {})
    if len(ratedecks) == 1:
        out["ratedeck"][ratedecks[0]] = 1
    return {category: items for category, items in out.items() if items}
