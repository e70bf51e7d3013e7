"""Accounts as KAZOO keeps them: the `accounts` DB, the `services` DB, account DBs, the reseller tree.

Reads what one evaluation needs (account doc, services doc, limits, the billing reseller, its settings and
plans) and writes what KAZOO sees of billing: the services doc's quantities and standing, and `pvt_enabled`
on account documents when the bookkeeper blocks or unblocks (docs/kazoo.md; docs/charging.md "Who bills whom").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from . import plans
from .clock import zone
from .couch import Conflict, Couch, CouchError, NotFound, retry_conflicts
from .dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, encode, from_gregorian, is_account_id, modb, to_gregorian
from .errors import BookkeeperError, InputError
from .holds import Holds
from .ledger.documents import month_of
from .plans.quantities import Quantities
from .settings import BillingSettings, billing_settings_from_doc, resolve_billing_settings

CONFIG_DOC = "configs_bookkeeper"
WRITE_MARK = "pvt_bookkeeper_write"
LIMITS_DOC = "limits"
ServicesUpdate = tuple[Quantities, Quantities, str]  # (quantities, cascade quantities, standing)
BLOCK_MARKER = "pvt_bookkeeper_blocked"
SYSTEM_CONFIG_DB = "system_config"
SERVICES_CONFIG = "services"  # system_config/services: KAZOO's kazoo_services settings


def _fingerprint(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k not in ("_rev", "pvt_modified", WRITE_MARK)}
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def mark_written(doc: dict) -> dict:
    """Mark a doc we are about to save, so its change coming back through a feed is known as ours."""
    doc[WRITE_MARK] = _fingerprint(doc)
    return doc


def written_by_us(doc: dict) -> bool:
    """True if this revision is exactly what we last wrote (nobody else changed it since)."""
    return doc.get(WRITE_MARK) == _fingerprint(doc)


class UnknownAccount(BookkeeperError):
    """The account is not in the `accounts` database."""


def require_account(couch: Couch, account_id: str) -> str:
    """`account_id` if the `accounts` database has it; UnknownAccount ("no such account") otherwise."""
    if not is_account_id(account_id) or couch.db(ACCOUNTS_DB).get_or_none(account_id) is None:
        raise UnknownAccount(f"{account_id}: no such account in {ACCOUNTS_DB}")
    return account_id


def master_account_id(couch: Couch, configured: str | None = None) -> str:
    """The master account: the configured id, else `system_config/accounts.master_account_id`, else the one
    account in `accounts` with an empty `pvt_tree`."""
    if configured:
        return configured
    try:
        found = couch.db(SYSTEM_CONFIG_DB).get("accounts").get("default", {}).get("master_account_id")
        if found:
            return found
    except NotFound:
        pass
    roots = [
        r["id"]
        for r in couch.db(ACCOUNTS_DB).all_docs(include_docs=True)
        if r.get("doc", {}).get("pvt_type") == "account" and not r["doc"].get("pvt_tree")
    ]
    if len(roots) != 1:
        raise BookkeeperError(
            f"cannot tell the master account ({len(roots)} accounts have no parent): set BOOKKEEPER_MASTER_ACCOUNT"
        )
    return roots[0]


@dataclass
class Account:
    """One account's documents: from `accounts`, `services`, and its own account DB (`limits`)."""

    id: str
    doc: dict
    services: dict
    limits: dict | None = None  # the `limits` doc ({} if none), once read (Directory.load_limits)
    reseller: str = ""  # the billing reseller (Directory.reseller_of)
    problem: InputError | None = None  # what is wrong with its account document (the account is held)

    @property
    def tree(self) -> list[str]:
        tree = self.doc.get("pvt_tree") or []
        return list(tree) if self.problem is None and isinstance(tree, list) else []

    @property
    def name(self) -> str:
        return self.doc.get("name", self.id)

    @property
    def is_reseller(self) -> bool:
        return bool(self.services.get("pvt_reseller"))

    @property
    def trial_expires(self) -> datetime | None:
        value = self.doc.get("pvt_trial_expires")
        return from_gregorian(value) if isinstance(value, int) and value > 0 else None

    @property
    def enabled(self) -> bool:
        return self.doc.get("pvt_enabled", True) is not False

    @property
    def blocked_by_us(self) -> bool:
        return bool(self.doc.get(BLOCK_MARKER))

    @property
    def postpay(self) -> tuple[bool, Decimal]:
        """(postpay allowed, max postpay amount in currency units) from the limits doc (read first)."""
        limits = self.limits or {}
        allowed = limits.get("pvt_allow_postpay", limits.get("allow_postpay", False))
        amount = limits.get("pvt_max_postpay_amount", limits.get("max_postpay_amount", 0))
        try:
            return bool(allowed), abs(Decimal(str(amount or 0)))
        except ArithmeticError:
            raise InputError(
                f"{account_db(self.id)}/limits", "max_postpay_amount", f"not a number: {amount!r}"
            ) from None


class Directory:
    """Reads and writes account documents. Settings and plan documents are kept parsed by revision: `refresh`
    (before each batch) drops those whose revision changed, so every evaluation bills by the current documents.
    An invalid settings document falls back to its last valid version (reported once through `holds`)."""

    def __init__(self, couch: Couch, master_id: str, dialect: str = "4.3", holds: Holds | None = None):
        self.couch, self.master_id, self.dialect = couch, master_id, dialect
        self.holds = holds or Holds()
        self._docs: dict[tuple[str, str], tuple[str | None, object]] = {}  # (owner, id) -> (rev, parsed or error)
        self._last_valid: dict[str, dict] = {}  # account -> fields of its last valid configs_bookkeeper
        self._billing_settings: dict[str, tuple[dict, dict, BillingSettings]] = {}
        self._system: tuple[str | None, dict] | None = None  # system_config/services: (rev, doc)

    def forget(self) -> None:
        """Drop every cached settings and plan document (read again when next needed)."""
        self._docs.clear()
        self._system = None

    def refresh(self, accounts: Sequence[Account] = (), resellers: Sequence[str] = ()) -> None:
        """Drop the cached settings and plans these accounts (and resellers) depend on whose revision changed:
        one `_all_docs` request (revisions only) per account DB that holds them."""
        wanted: dict[str, set[str]] = {self.master_id: {CONFIG_DOC}}
        for reseller in [*resellers, *(a.reseller for a in accounts)]:
            wanted.setdefault(reseller, set()).add(CONFIG_DOC)
        for account in accounts:
            for plan_id, vendor in _assigned(account):
                wanted.setdefault(vendor or account.reseller, set()).add(plan_id)
        for owner, doc_id in list(self._docs):  # what else is cached from these DBs (e.g. object plans)
            if owner in wanted:
                wanted[owner].add(doc_id)
        if self._system is not None:
            try:
                row = self.couch.db(SYSTEM_CONFIG_DB).all_docs(keys=[SERVICES_CONFIG])[0]
            except NotFound:
                row = {"error": "not_found"}
            value = row.get("value") or {}
            if (None if "error" in row or value.get("deleted") else value.get("rev")) != self._system[0]:
                self._system = None
        for owner, ids in wanted.items():
            if not any((owner, doc_id) in self._docs for doc_id in ids):
                continue
            try:
                rows = self.couch.db(account_db(owner)).all_docs(keys=sorted(ids))
            except NotFound:
                rows = [{"key": doc_id, "error": "not_found"} for doc_id in ids]
            for row in rows:
                value = row.get("value") or {}
                rev = None if "error" in row or value.get("deleted") else value.get("rev")
                cached = self._docs.get((owner, row["key"]))
                if cached is not None and cached[0] != rev:
                    self._docs.pop((owner, row["key"]), None)

    def _parsed(self, owner: str, doc_id: str, parse):
        """`parse(doc or None)` of a document of `owner`'s account DB, kept by revision; an InputError is kept and
        returned like a value."""
        key = (owner, doc_id)
        if key not in self._docs:
            doc = self.couch.db(account_db(owner)).get_or_none(doc_id)
            try:
                value = parse(doc)
            except InputError as err:
                value = err
            self._docs[key] = ((doc or {}).get("_rev"), value)
        return self._docs[key][1]

    # -- reading
    def account(self, account_id: str) -> Account:
        """One account with its limits and billing reseller."""
        found = self.accounts([account_id])
        if not found:
            raise UnknownAccount(f"{account_id}: no such account in {ACCOUNTS_DB}")
        self.load_limits(found[0])
        return found[0]

    def accounts(self, ids: list[str]) -> list[Account]:
        """Many accounts (without limits: `load_limits`) in two bulk reads: their account docs, then the services
        docs of the accounts and of all their ancestors, which also tell each account's billing reseller."""
        docs = self.couch.db(ACCOUNTS_DB).get_many(ids)
        problems = {a: _tree_problem(a, docs[a]) for a in ids if a in docs}
        trees = {
            a: [] if problems[a] else [t for t in reversed(docs[a].get("pvt_tree") or []) if t != a]
            for a in ids
            if a in docs
        }
        wanted = list(dict.fromkeys([*trees, *(t for tree in trees.values() for t in tree)]))
        services = self.couch.db(SERVICES_DB).get_many(wanted) if wanted else {}
        out = []
        for account_id, ancestors in trees.items():
            reseller = next(
                (a for a in ancestors if a != self.master_id and services.get(a, {}).get("pvt_reseller")),
                self.master_id,
            )
            own = services.get(account_id, {})
            out.append(
                Account(
                    account_id,
                    docs[account_id],
                    own,
                    reseller=reseller,
                    problem=problems[account_id] or _services_problem(account_id, own),
                )
            )
        return out

    def load_limits(self, account: Account) -> Account:
        """Read the account's `limits` document (postpay settings, trunks) from its own DB."""
        account.limits = self.couch.db(account_db(account.id)).get_or_none(LIMITS_DOC) or {}
        return account

    def all_account_ids(self) -> list[str]:
        return [
            r["id"]
            for r in self.couch.db(ACCOUNTS_DB).all_docs()
            if not r["id"].startswith("_design/") and not r.get("value", {}).get("deleted")
        ]

    def reseller_of(self, account: Account) -> str:
        """The billing reseller: the nearest ancestor whose services doc has `pvt_reseller: true`, else master
        (found when the account was read)."""
        return account.reseller

    def billing_settings(self, account_id: str) -> BillingSettings:
        """The settings an account is billed by: its billing reseller's (UnknownAccount if there is no such
        account)."""
        return self.reseller_settings(self.reseller_of(self.account(account_id)))

    def currency_of(self, account_id: str, currency: str | None = None, where: str = "currency") -> str:
        """The account's currency (its billing reseller's). With `currency`: the check every path that brings
        money in goes through (the ledger's writes call it); another currency is refused, never converted."""
        own = self.billing_settings(account_id).currency
        if currency is not None and currency != own:
            raise InputError(
                where, None, f"{currency} is not the currency of account {account_id} ({own}); money is never converted"
            )
        return own

    def local_zone(self, account_id: str | None = None) -> ZoneInfo:
        """The time zone people mean when they name a day for an account: its billing reseller's (the master's
        when no account is named)."""
        billing_settings = self.billing_settings(account_id) if account_id else self.reseller_settings(self.master_id)
        return zone(billing_settings.timezone)

    def reseller_settings(self, reseller_id: str) -> BillingSettings:
        """The reseller's `configs_bookkeeper`, falling back key by key to the master's, then to defaults. An
        invalid document serves by its last valid version; InputError if it never had one."""
        own = self._config(reseller_id)
        master = own if reseller_id == self.master_id else self._config(self.master_id)
        cached = self._billing_settings.get(reseller_id)
        if cached is None or cached[0] is not own or cached[1] is not master:
            cached = (own, master, resolve_billing_settings(own, master))
            self._billing_settings[reseller_id] = cached
        return cached[2]

    def _config(self, account_id: str) -> dict:
        """The fields of an account's `configs_bookkeeper` ({} if none), or of its last valid version."""
        where = f"{account_db(account_id)}/{CONFIG_DOC}"

        def parse(doc: dict | None) -> dict:
            billing_settings_from_doc(doc, where)
            return {k: v for k, v in (doc or {}).items() if not k.startswith("_")}

        found = self._parsed(account_id, CONFIG_DOC, parse)
        if isinstance(found, InputError):
            last = self._last_valid.get(account_id)
            if last is None:
                raise found
            self.holds.stale_settings(where, str(found))
            return last
        self._last_valid[account_id] = found
        self.holds.settings_valid(where)
        return found

    def plan(self, vendor_id: str, plan_id: str) -> plans.ServicePlan:
        """A service plan document from its vendor's account DB, validated."""

        def parse(doc: dict | None) -> plans.ServicePlan:
            if doc is None or doc.get("pvt_deleted"):
                raise InputError(f"{SERVICES_DB}", f"plans.{plan_id}", f"no such plan in {account_db(vendor_id)}")
            return plans.load_plan(doc, where=f"{account_db(vendor_id)}/{plan_id}")

        found = self._parsed(vendor_id, plan_id, parse)
        if isinstance(found, InputError):
            raise found
        return found

    def merged_plans(
        self, account: Account, reseller_id: str, object_plans: list | None = None
    ) -> list[plans.MergedPlan]:
        """The account's assigned plans and its object plans (`object_plans()`, read now unless given), merged as
        KAZOO merges them (one per bookkeeper); in 4.3 the services doc's `bookkeeper` is each plan's default
        bookkeeper."""
        if object_plans is None:
            object_plans = self.object_plans(account.id)
        loaded, overrides = [], {}
        for plan_id, vendor in _assigned(account):
            loaded.append(self.plan(vendor or reseller_id, plan_id))
            entry = account.services["plans"][plan_id]
            if isinstance(entry, dict) and entry.get("overrides"):
                overrides[plan_id] = entry["overrides"]
        objects = [
            (self.plan(entry.get("vendor_id") or reseller_id, plan_id), entry.get("overrides") or {})
            for plan_id, entry in object_plans
        ]
        if not loaded and not objects:
            return []
        bookkeeper = account.services.get("bookkeeper") if self.dialect == "4.3" else None
        bookkeeper = dict(bookkeeper) if isinstance(bookkeeper, dict) else {}
        if self.dialect == "4.3" and not _nonempty(bookkeeper.get("type")) and reseller_id == self.master_id:
            bookkeeper["type"] = self.master_bookkeeper_type()  # kz_services:maybe_master_bookkeeper_type
        return plans.merge_plans(
            loaded,
            overrides=overrides,
            global_overrides=account.services.get("overrides") or {},
            dialect=self.dialect,
            default_bookkeeper=bookkeeper or None,
            object_plans=objects,
        )

    def master_bookkeeper_type(self) -> str:
        """KAZOO 4.3's bookkeeper type of an account the master bills whose services doc names none:
        `system_config/services` → `master_account_bookkeeper` (`default` when unset), kept by revision."""
        if self._system is None:
            doc = self.couch.db(SYSTEM_CONFIG_DB).get_or_none(SERVICES_CONFIG) or {}
            self._system = (doc.get("_rev"), doc)
        section = self._system[1].get("default")
        value = section.get("master_account_bookkeeper") if isinstance(section, dict) else None
        return value if _nonempty(value) else plans.DEFAULT_BOOKKEEPER["type"]

    def kazoo42_quantities(self, account: Account, merged: list[plans.MergedPlan], at: datetime) -> dict:
        """4.2 only: the categories KAZOO 4.2 counts besides the documents (`plans.kazoo42_quantities`): this
        month's ledgers by service, the account document's `ui_apps`, the merged plan's ratedeck."""
        if self.dialect != "4.2":
            return {}
        try:
            rows = self.couch.db(modb(account.id, *month_of(at))).view(
                "ledgers", "total_by_service_legacy", group=True
            )["rows"]
        except NotFound:  # no monthly DB yet, or KAZOO's design document without that view
            rows = []
        categories: dict = {}
        for m in merged:
            for category, items in m.plan.plan.items():
                categories.setdefault(category, {}).update(items)
        return plans.kazoo42_quantities(rows, account.doc, categories)

    def object_plans(self, account_id: str) -> list[list]:
        """[plan id, {vendor_id, overrides}] for every plan a document of the account names for itself
        (`service.plans`, the `bookkeeper_services/object_plans` view); 4.3 only."""
        if self.dialect != "4.3":
            return []
        out = []
        for row in self.couch.db(account_db(account_id)).view("bookkeeper_services", "object_plans")["rows"]:
            where = f"{account_db(account_id)}/{row['id']}"
            if not isinstance(row["value"], dict):
                raise InputError(where, "service.plans", f"not an object: {row['value']!r}")
            for plan_id, entry in sorted(row["value"].items()):
                if not isinstance(entry, dict):
                    raise InputError(where, f"service.plans.{plan_id}", f"not an object: {entry!r}")
                out.append([plan_id, entry])
        return out

    def quantities(self, account_id: str, counters: tuple[plans.Counter, ...] = ()) -> Quantities:
        """The account's own quantities, recounted from its DB: one query of the `bookkeeper_services/quantify`
        view, and for each of the reseller's custom `counters` its design document and its view (InputError, never
        a zero, when a counter cannot be read)."""
        db = self.couch.db(account_db(account_id))
        rows = db.view("bookkeeper_services", "quantify", group_level=2)["rows"]
        quantities = plans.resolve_substitutes(plans.from_view_rows(rows))
        for counter in counters:
            plans.check_view(counter, db.get_or_none(f"_design/{counter.ddoc}"), db.name)
            try:
                rows = db.view(counter.ddoc, counter.view, **counter.query_params())["rows"]
            except CouchError as exc:
                if exc.status not in (400, 500):  # the server's trouble, not the view's: retried
                    raise
                raise InputError(
                    f"{db.name}/_design/{counter.ddoc}/_view/{counter.view}",
                    None,
                    f"the view fails: {exc.error}: {exc.reason}",
                ) from None
            quantities.pop(counter.category, None)  # the counter's view is the one source of its category
            quantities.update(plans.counter_quantities(counter, rows, db.name))
        return quantities

    def stored_quantities(self, account: Account) -> dict | None:
        """The account's own quantities as last written on its services doc; None if never counted."""
        quantities = account.services.get("quantities")
        if self.dialect == "4.3":
            quantities = (quantities or {}).get("account") if "account" in (quantities or {}) else None
        return quantities if isinstance(quantities, dict) and account.services.get(WRITE_MARK) else None

    def manual_quantities(self, account: Account) -> Quantities:
        """4.3's `quantities.manual` on the services doc (set through `/services/manual`): each item there replaces
        the counted one (`kz_services_quantities:item/3`). 4.2 has none."""
        manual = (account.services.get("quantities") or {}).get("manual") if self.dialect == "4.3" else None
        if manual is None:
            return {}
        return plans.load_quantities(manual, f"{SERVICES_DB}/{account.id}: quantities.manual")

    def descendants(self, account_id: str) -> list[str]:
        """Every account whose `pvt_tree` contains this one."""
        return [
            r["id"]
            for r in self.couch.db(ACCOUNTS_DB).all_docs(include_docs=True)
            if isinstance(tree := (r.get("doc") or {}).get("pvt_tree"), list) and account_id in tree
        ]

    # -- writing
    def services_update(
        self, account: Account, quantities: Quantities, cascade: Quantities, standing: str, now: datetime
    ) -> dict | None:
        """The services doc recording quantities and standing the way this KAZOO version reads them, marked as
        ours; None if the doc as read already says so."""
        doc = account.services or new_services_doc(account.id, account.tree, account.reseller, self.dialect, now)
        wanted = dict(doc)
        if self.dialect == "4.3":
            wanted["quantities"] = {**(doc.get("quantities") or {}), "account": quantities, "cascade": cascade}
        else:
            wanted["quantities"] = quantities
            wanted["pvt_dirty"] = False
        wanted["pvt_status"] = standing
        if wanted == doc:
            return None
        wanted["pvt_modified"] = to_gregorian(now)
        return mark_written(wanted)

    def save_services(self, updates: list[tuple[Account, ServicesUpdate]], now: datetime) -> None:
        """Save services docs in one bulk write; `updates` pairs an account (its services doc as read) with
        (quantities, cascade, standing). A doc changed by someone else meanwhile is read again and redone
        (`retry_conflicts`)."""
        db = self.couch.db(SERVICES_DB)

        def attempt() -> None:
            nonlocal updates
            docs = {a.id: (a, doc) for a, args in updates if (doc := self.services_update(a, *args, now)) is not None}
            results = db.bulk_docs([doc for _, doc in docs.values()])
            for account_id, (account, doc) in docs.items():
                row = results.get(account_id, {})
                if row.get("ok"):
                    account.services = {**doc, "_rev": row["rev"]}
                elif row.get("error") != "conflict":
                    raise CouchError(0, str(row.get("error")), str(row.get("reason")), f"{SERVICES_DB}/{account_id}")
            moved = {a.id: a for a, _ in docs.values() if results.get(a.id, {}).get("error") == "conflict"}
            if moved:
                fresh = db.get_many(list(moved))
                for account in moved.values():
                    account.services = fresh.get(account.id, {})
                updates = [(a, args) for a, args in updates if a.id in moved]
                raise Conflict(409, "conflict", "", SERVICES_DB)

        retry_conflicts(lambda: f"{SERVICES_DB}/{', '.join(a.id for a, _ in updates)}", attempt)

    def set_enabled(self, account_id: str, enabled: bool, now: datetime) -> list[str]:
        """Block (enabled False) an account and its descendants with our marker, or unblock those we blocked.

        Never lifts a block we did not set. Writes the account doc in `accounts` and in the account's own DB.
        Returns the ids changed."""
        changed = []
        for target in [account_id, *self.descendants(account_id)]:
            for db in (self.couch.db(ACCOUNTS_DB), self.couch.db(account_db(target))):
                if self._set_enabled_doc(db, target, enabled, now) and target not in changed:
                    changed.append(target)
        return changed

    def _set_enabled_doc(self, db, account_id: str, enabled: bool, now: datetime) -> bool:
        def change(doc: dict | None) -> dict | None:
            if doc is None:
                return None
            if enabled:
                if not doc.get(BLOCK_MARKER):
                    return None  # not blocked by us: leave it alone
                doc.pop(BLOCK_MARKER)
                doc["pvt_enabled"] = True
            else:
                if doc.get("pvt_enabled", True) is False:
                    return None  # already disabled, by us or by an administrator
                doc["pvt_enabled"] = False
                doc[BLOCK_MARKER] = True
            doc["pvt_modified"] = to_gregorian(now)
            return mark_written(doc)

        return db.update(account_id, change) is not None

    def cancel_categories(self, account: Account, categories: frozenset[str], now: datetime) -> None:
        """Zero what MRC cancellation zeroes in the account's own documents: the trunk keys of `limits`."""
        if "limits" not in categories:
            return
        if account.limits is None:
            self.load_limits(account)
        if not account.limits:
            return
        doc = dict(account.limits)
        for key in plans.quantities.TRUNKS:
            if doc.get(key):
                doc[key] = 0
        if doc != account.limits:
            doc["pvt_modified"] = to_gregorian(now)
            self.couch.db(account_db(account.id)).put(mark_written(doc))
            account.limits = doc


def _tree_problem(account_id: str, doc: dict) -> InputError | None:
    tree = doc.get("pvt_tree") or []
    if isinstance(tree, list) and all(isinstance(t, str) for t in tree):
        return None
    return InputError(f"{ACCOUNTS_DB}/{account_id}", "pvt_tree", f"not a list of account ids: {tree!r}")


def _services_problem(account_id: str, doc: dict) -> InputError | None:
    try:
        _assigned(Account(account_id, {}, doc))
    except InputError as err:
        return err
    return None


def _assigned(account: Account) -> list[tuple[str, str | None]]:
    """(plan id, vendor account or None for the billing reseller) of each plan on the account's services doc."""
    assigned = account.services.get("plans") or {}
    if not isinstance(assigned, dict):
        raise InputError(f"{SERVICES_DB}/{account.id}", "plans", f"not an object: {assigned!r}")
    out = []
    for plan_id, entry in sorted(assigned.items()):
        entry = entry if isinstance(entry, dict) else {}
        vendor = entry.get("vendor_id") or entry.get("account_id") or None
        if vendor is not None and not isinstance(vendor, str):
            raise InputError(f"{SERVICES_DB}/{account.id}", f"plans.{plan_id}.vendor_id", f"not an id: {vendor!r}")
        out.append((plan_id, vendor))
    return out


def new_services_doc(
    account_id: str, tree: list[str], reseller_id: str, dialect: str, now: datetime, *, reseller: bool = False
) -> dict:
    """The services doc of an account that has none, as KAZOO creates one (docs/kazoo.md): the one
    builder of it (provisioning, `plans assign`, the engine's first write). `pvt_reseller_id` is the billing
    reseller (the master for the master itself); `pvt_vsn` 2 for 4.3, "1" for 4.2 (whose docs start dirty, with
    flat quantities)."""
    seconds = to_gregorian(now)
    doc: dict[str, Any] = {
        "_id": account_id,
        "pvt_type": "service",
        "pvt_vsn": 2 if dialect == "4.3" else "1",
        "pvt_account_id": account_id,
        "pvt_account_db": encode(account_db(account_id)),
        "pvt_created": seconds,
        "pvt_modified": seconds,
        "pvt_status": "good_standing",
        "pvt_tree": list(tree),
        "pvt_reseller": reseller,
        "pvt_reseller_id": reseller_id,
        "plans": {},
        "quantities": {"account": {}, "cascade": {}} if dialect == "4.3" else {},
    }
    if dialect == "4.2":
        doc["pvt_dirty"] = True
    return doc


def _nonempty(value: object) -> TypeGuard[str]:
    """A non-empty string, as KAZOO's `get_ne_binary_value` takes it."""
    return isinstance(value, str) and value != ""
