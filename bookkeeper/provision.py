"""Create KAZOO-shaped accounts the way KAZOO stores them: the `accounts` DB entry, the account DB with its
own account doc, the services doc (`pvt_tree`, `pvt_reseller`, assigned plans), plans and `configs_bookkeeper`
in a reseller's DB, the `limits` doc, and billable documents. Used by `demo load` and the simulator."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from . import designdocs
from .accounts import CONFIG_DOC, LIMITS_DOC, SYSTEM_CONFIG_DB, Directory, new_services_doc
from .config import Config
from .couch import Couch
from .databases import account_databases, ensure_core
from .dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, encode, parse_db_name, to_gregorian

if TYPE_CHECKING:
    from .ledger import Ledger


def new_account_id() -> str:
    return secrets.token_hex(16)


def _pvt(account_id: str, now: datetime, pvt_type: str) -> dict:
    seconds = to_gregorian(now)
    return {
        "pvt_type": pvt_type,
        "pvt_account_id": account_id,
        "pvt_account_db": encode(account_db(account_id)),
        "pvt_created": seconds,
        "pvt_modified": seconds,
        "pvt_vsn": "1",
    }


def create_account(
    couch: Couch,
    config: Config,
    account_id: str,
    name: str,
    tree: list[str],
    now: datetime,
    *,
    reseller: bool = False,
    plans: dict[str, str] | None = None,
    trial_expires: datetime | None = None,
    dialect: str = "4.3",
    fields: dict | None = None,
) -> None:
    """One account: `tree` lists its ancestors, master first; `plans` maps plan id -> vendor (reseller) id;
    `fields` are added to its account document (e.g. `pvt_agent`, `pvt_referred_by`)."""
    ensure_core(couch, config)
    db = couch.db(account_db(account_id)).ensure()
    designdocs.install_kind(db, "account")
    doc = {
        "_id": account_id,
        "name": name,
        "realm": f"{name.lower().replace(' ', '-')}.example.com",
        "pvt_tree": tree,
        "pvt_enabled": True,
        **_pvt(account_id, now, "account"),
    }
    if reseller:
        doc["pvt_reseller"] = True
    if trial_expires is not None:
        doc["pvt_trial_expires"] = to_gregorian(trial_expires)
    doc.update(fields or {})
    db.put(dict(doc))
    couch.db(ACCOUNTS_DB).put(dict(doc))
    [account] = Directory(couch, tree[0] if tree else account_id, dialect).accounts([account_id])
    services = new_services_doc(account_id, tree, account.reseller, dialect, now, reseller=reseller)
    key = "vendor_id" if dialect == "4.3" else "account_id"
    services["plans"] = {plan_id: {key: vendor} for plan_id, vendor in (plans or {}).items()}
    couch.db(SERVICES_DB).put(services)


def fund(ledger: Ledger, account: str, balance: Decimal | int | str, at: datetime) -> None:
    """Credit `balance` USD to `account` once (the credit's key is the account's; nothing for a zero balance)."""
    if Decimal(balance):
        ledger.credit(
            account,
            Decimal(balance),
            "USD",
            kind="credit",
            reason="manual_addition",
            description="funds",
            at=at,
            key=f"funds:{account}",
        )


def funded_customers(
    couch: Couch, config: Config, plan_id: str, plan: dict, count: int, balance, now: datetime, name: str = "Customer"
) -> tuple[str, list[str]]:
    """A USD master reseller (billing day 1) offering `plan` as `plan_id`, and `count` customers on it, each
    credited `balance` under a key of its own (benchmarks and tests); (master id, customer ids)."""
    from .ledger import Ledger

    master = new_account_id()
    create_account(couch, config, master, f"{name} master", [], now, reseller=True)
    put_billing_settings(couch, master, {"currency": "USD", "billing_day": 1}, now)
    put_plan(couch, master, plan_id, plan, now)
    ledger, accounts = Ledger(couch), []
    for n in range(count):
        account = new_account_id()
        create_account(couch, config, account, f"{name} {n}", [master], now, plans={plan_id: master})
        fund(ledger, account, balance, now)
        accounts.append(account)
    return master, accounts


def put_plan(couch: Couch, vendor_id: str, plan_id: str, plan: dict, now: datetime) -> None:
    """A service plan document in its vendor's account DB (KAZOO reads plans from there)."""
    couch.db(account_db(vendor_id)).put({**plan, "_id": plan_id, **_pvt(vendor_id, now, "service_plan")})


def put_billing_settings(couch: Couch, reseller_id: str, values: dict, now: datetime) -> None:
    couch.db(account_db(reseller_id)).put({**values, "_id": CONFIG_DOC, **_pvt(reseller_id, now, "config")})


def put_limits(couch: Couch, account_id: str, limits: dict, now: datetime) -> dict:
    doc = {**limits, "_id": LIMITS_DOC, **_pvt(account_id, now, "limits")}
    couch.db(account_db(account_id)).put(doc)
    return doc


def add_docs(couch: Couch, account_id: str, docs: list[dict], now: datetime) -> list[str]:
    """Billable documents (devices, users, numbers...) in the account DB; ids are made where none is given.
    A design document (a reseller's counter view) is written as given."""
    made = []
    for doc in docs:
        if str(doc.get("_id", "")).startswith("_design/"):
            made.append(dict(doc))
            continue
        pvt_type = doc.get("pvt_type", "device")
        made.append({"_id": doc.get("_id") or secrets.token_hex(16), **doc, **_pvt(account_id, now, pvt_type)})
    results = couch.db(account_db(account_id)).bulk_docs(made)
    failed = [f"{i}: {r.get('error')}" for i, r in results.items() if r.get("error")]
    if failed:
        raise ValueError(f"{account_db(account_id)}: documents not written: {', '.join(failed)}")
    return [d["_id"] for d in made]


def remove(couch: Couch, config: Config, account_ids) -> None:
    """Delete these accounts' databases (account DBs and MODBs) and the namespace's shared databases.

    For simulations and tests that ran in their own namespace; never point it at a production namespace."""
    ours = set(account_ids)
    accounts, modbs = account_databases(couch)
    for name in accounts + modbs:
        parsed = parse_db_name(name)
        if parsed is not None and parsed.account_id in ours:
            couch.db(name).delete()
    for name in (ACCOUNTS_DB, SERVICES_DB, SYSTEM_CONFIG_DB, config.bookkeeper_db):
        couch.db(name).delete()
