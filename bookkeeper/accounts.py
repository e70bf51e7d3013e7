"""Accounts as KAZOO keeps them: the `accounts` DB, the `services` DB, account DBs, the reseller tree.

Reads what one evaluation needs (account doc, services doc, limits, the billing reseller, its settings and
plans) and writes what KAZOO sees of billing: the services doc's quantities and standing, and `pvt_enabled`
on account documents when the bookkeeper blocks or unblocks (kazoo.md §2, §7; charging.md "Who bills whom").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from . import plans
from .clock import zone
from .couch import Conflict, Couch, CouchError, NotFound
from .dbnames import (ACCOUNTS_DB, SERVICES_DB, account_db, encode, from_gregorian, is_account_id,
                      to_gregorian)
from .errors import BookkeeperError, InputError
from .settings import BookkeeperSettings, resolve_settings

CONFIG_DOC = "configs_bookkeeper"
WRITE_MARK = "pvt_bookkeeper_write"
LIMITS_DOC = "limits"
BLOCK_MARKER = "pvt_bookkeeper_blocked"
SYSTEM_CONFIG_DB = "system_config"


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
    roots = [r["id"] for r in couch.db(ACCOUNTS_DB).all_docs(include_docs=True)
             if r.get("doc", {}).get("pvt_type") == "account" and not r["doc"].get("pvt_tree")]
    if len(roots) != 1:
        raise BookkeeperError(f"cannot tell the master account ({len(roots)} accounts have no parent): "
                              "set BOOKKEEPER_MASTER_ACCOUNT")
    return roots[0]


@dataclass
class Account:
    """One account's documents: from `accounts`, `services`, and its own account DB (`limits`)."""

    id: str
    doc: dict
    services: dict
    limits: dict | None = None  # the `limits` doc ({} if none), once read (Directory.load_limits)
    reseller: str = ""  # the billing reseller (Directory.reseller_of)

    @property
    def tree(self) -> list[str]:
        return list(self.doc.get("pvt_tree") or [])

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
        allowed = self.limits.get("pvt_allow_postpay", self.limits.get("allow_postpay", False))
        amount = self.limits.get("pvt_max_postpay_amount", self.limits.get("max_postpay_amount", 0))
        try:
            return bool(allowed), abs(Decimal(str(amount or 0)))
        except ArithmeticError:
            raise InputError(f"{account_db(self.id)}/limits", "max_postpay_amount",
                             f"not a number: {amount!r}") from None


class Directory:
    """Reads and writes account documents; caches what changes rarely (settings, plans) per instance."""

    def __init__(self, couch: Couch, master_id: str, dialect: str = "4.3"):
        self.couch, self.master_id, self.dialect = couch, master_id, dialect
        self._settings: dict[str, BookkeeperSettings] = {}
        self._plans: dict[str, dict[str, plans.ServicePlan]] = {}

    def forget(self, account_id: str | None = None) -> None:
        """Drop cached settings and plans (all, or one reseller's) after they changed."""
        for cache in (self._settings, self._plans):
            cache.pop(account_id, None) if account_id else cache.clear()

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
        trees = {a: [t for t in reversed(docs[a].get("pvt_tree") or []) if t != a] for a in ids if a in docs}
        wanted = list(dict.fromkeys([*trees, *(t for tree in trees.values() for t in tree)]))
        services = self.couch.db(SERVICES_DB).get_many(wanted) if wanted else {}
        out = []
        for account_id, ancestors in trees.items():
            reseller = next((a for a in ancestors if a != self.master_id and services.get(a, {}).get("pvt_reseller")),
                            self.master_id)
            out.append(Account(account_id, docs[account_id], services.get(account_id, {}), reseller=reseller))
        return out

    def load_limits(self, account: Account) -> Account:
        """Read the account's `limits` document (postpay settings, trunks) from its own DB."""
        account.limits = self.couch.db(account_db(account.id)).get_or_none(LIMITS_DOC) or {}
        return account

    def all_account_ids(self) -> list[str]:
        return [r["id"] for r in self.couch.db(ACCOUNTS_DB).all_docs()
                if not r["id"].startswith("_design/") and not r.get("value", {}).get("deleted")]

    def reseller_of(self, account: Account) -> str:
        """The billing reseller: the nearest ancestor whose services doc has `pvt_reseller: true`, else master
        (found when the account was read)."""
        return account.reseller

    def billing_settings(self, account_id: str) -> BookkeeperSettings:
        """The settings an account is billed by: its billing reseller's (UnknownAccount if there is no such
        account)."""
        return self.settings(self.reseller_of(self.account(account_id)))

    def currency_of(self, account_id: str, currency: str | None = None, where: str = "currency") -> str:
        """The account's currency (its billing reseller's). With `currency`: the check every path that brings
        money in goes through (the ledger's writes call it); another currency is refused, never converted."""
        own = self.billing_settings(account_id).currency
        if currency is not None and currency != own:
            raise InputError(where, None, f"{currency} is not the currency of account {account_id} ({own}); "
                                          "money is never converted")
        return own

    def local_zone(self, account_id: str | None = None) -> ZoneInfo:
        """The time zone people mean when they name a day for an account: its billing reseller's (the master's
        when no account is named)."""
        settings = self.billing_settings(account_id) if account_id else self.settings(self.master_id)
        return zone(settings.timezone)

    def settings(self, reseller_id: str) -> BookkeeperSettings:
        """The reseller's `configs_bookkeeper`, falling back key by key to the master's, then to defaults."""
        if reseller_id not in self._settings:
            own = self.couch.db(account_db(reseller_id)).get_or_none(CONFIG_DOC)
            master = own if reseller_id == self.master_id else \
                self.couch.db(account_db(self.master_id)).get_or_none(CONFIG_DOC)
            self._settings[reseller_id] = resolve_settings(
                own, master, reseller_where=f"{account_db(reseller_id)}/{CONFIG_DOC}",
                master_where=f"{account_db(self.master_id)}/{CONFIG_DOC}")
        return self._settings[reseller_id]

    def plan(self, vendor_id: str, plan_id: str) -> plans.ServicePlan:
        """A service plan document from its vendor's account DB, validated."""
        cached = self._plans.setdefault(vendor_id, {})
        if plan_id not in cached:
            doc = self.couch.db(account_db(vendor_id)).get_or_none(plan_id)
            if doc is None or doc.get("pvt_deleted"):
                raise InputError(f"{SERVICES_DB}", f"plans.{plan_id}",
                                 f"no such plan in {account_db(vendor_id)}")
            cached[plan_id] = plans.load_plan(doc, where=plan_id)
        return cached[plan_id]

    def merged_plans(self, account: Account, reseller_id: str) -> list[plans.MergedPlan]:
        """The account's assigned plans, merged as KAZOO 4.3 merges them (one per bookkeeper)."""
        assigned = account.services.get("plans") or {}
        if not assigned:
            return []
        loaded, overrides = [], {}
        for plan_id, entry in sorted(assigned.items()):
            entry = entry if isinstance(entry, dict) else {}
            vendor = entry.get("vendor_id") or entry.get("account_id") or reseller_id
            loaded.append(self.plan(vendor, plan_id))
            if entry.get("overrides"):
                overrides[plan_id] = entry["overrides"]
        return plans.merge_plans(loaded, overrides=overrides,
                                 global_overrides=account.services.get("overrides") or {}, dialect=self.dialect)

    def quantities(self, account_id: str) -> plans.quantities.Quantities:
        """The account's own quantities, recounted from its DB in one query of the `services/quantify` view."""
        rows = self.couch.db(account_db(account_id)).view("services", "quantify", group_level=2)["rows"]
        return plans.resolve_substitutes(plans.from_view_rows(rows))

    def stored_quantities(self, account: Account) -> dict | None:
        """The account's own quantities as last written on its services doc; None if never counted."""
        quantities = account.services.get("quantities")
        if self.dialect == "4.3":
            quantities = (quantities or {}).get("account") if "account" in (quantities or {}) else None
        return quantities if isinstance(quantities, dict) and account.services.get(WRITE_MARK) else None

    def descendants(self, account_id: str) -> list[str]:
        """Every account whose `pvt_tree` contains this one."""
        return [r["id"] for r in self.couch.db(ACCOUNTS_DB).all_docs(include_docs=True)
                if account_id in (r.get("doc") or {}).get("pvt_tree", [])]

    # -- writing
    def services_update(self, account: Account, quantities, cascade, standing: str, now: datetime) -> dict | None:
        """The services doc recording quantities and standing the way this KAZOO version reads them, marked as
        ours; None if the doc as read already says so."""
        doc = account.services or _new_services_doc(account, now)
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

    def save_services(self, updates: list[tuple[Account, tuple]], now: datetime) -> None:
        """Save services docs in one bulk write; `updates` pairs an account (its services doc as read) with
        (quantities, cascade, standing). A doc changed by someone else meanwhile is read again and redone."""
        db = self.couch.db(SERVICES_DB)
        for _ in range(5):
            docs = {a.id: (a, doc) for a, args in updates if (doc := self.services_update(a, *args, now)) is not None}
            if not docs:
                return
            results = db.bulk_docs([doc for _, doc in docs.values()])
            for account_id, (account, doc) in docs.items():
                row = results.get(account_id, {})
                if row.get("ok"):
                    account.services = {**doc, "_rev": row["rev"]}
                elif row.get("error") != "conflict":
                    raise CouchError(0, str(row.get("error")), str(row.get("reason")), f"{SERVICES_DB}/{account_id}")
            moved = {a.id: a for a, _ in docs.values() if results.get(a.id, {}).get("error") == "conflict"}
            if not moved:
                return
            fresh = db.get_many(list(moved))
            for account in moved.values():
                account.services = fresh.get(account.id, {})
            updates = [(a, args) for a, args in updates if a.id in moved]
        raise Conflict(409, "conflict", "services doc kept changing", SERVICES_DB)

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
        for _ in range(5):
            doc = db.get_or_none(account_id)
            if doc is None:
                return False
            if enabled:
                if not doc.get(BLOCK_MARKER):
                    return False  # not blocked by us: leave it alone
                doc.pop(BLOCK_MARKER)
                doc["pvt_enabled"] = True
            else:
                if doc.get("pvt_enabled", True) is False:
                    return False  # already disabled, by us or by an administrator
                doc["pvt_enabled"] = False
                doc[BLOCK_MARKER] = True
            doc["pvt_modified"] = to_gregorian(now)
            try:
                db.put(mark_written(doc))
                return True
            except Conflict:
                continue
        raise Conflict(409, "conflict", "account doc kept changing", f"{db.name}/{account_id}")

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


def _new_services_doc(account: Account, now: datetime) -> dict:
    seconds = to_gregorian(now)
    return {"_id": account.id, "pvt_type": "service", "pvt_vsn": 2, "pvt_account_id": account.id,
            "pvt_account_db": encode(account_db(account.id)), "pvt_tree": account.tree,
            "pvt_created": seconds, "pvt_modified": seconds, "pvt_status": "good_standing", "plans": {}}
