"""Which databases the daemon tails, and what the server can tell it about them.

Tailed: every KAZOO account DB (not the monthly `-YYYYMM` ones) plus `accounts` and `services`. The server is
probed once at start-up: CouchDB 3 and Cloudant have `_db_updates` (one feed reports every created, updated and
deleted database); PouchDB Server answers it with 400, so there the daemon diffs `_all_dbs` periodically.
PouchDB Server lists `account/ab/cd/...` flattened (`accountabcd...`); names are returned canonical.
"""

from __future__ import annotations

from dataclasses import dataclass

from bookkeeper.couch import Couch, CouchError
from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, parse_db_name

SHARED_DBS = (ACCOUNTS_DB, SERVICES_DB)


@dataclass(frozen=True)
class ServerFeatures:
    vendor: str
    version: str
    db_updates: bool


def probe(couch: Couch, db_updates: bool = True) -> ServerFeatures:
    """The server's vendor and whether it has `_db_updates` we may read (400/404: absent; 401/403: not ours);
    `db_updates` False: not asked, taken as absent."""
    info = couch.info()
    vendor = (info.get("vendor") or {}).get("name") or "unknown"
    if not db_updates:
        return ServerFeatures(str(vendor), str(info.get("version", "")), False)
    try:
        couch.request("GET", "/_db_updates", params={"limit": 1}, retry=False)
        db_updates = True
    except CouchError as exc:
        if exc.status not in (400, 401, 403, 404, 405, 501):
            raise
        db_updates = False
    return ServerFeatures(str(vendor), str(info.get("version", "")), db_updates)


def tailed_name(couch: Couch, raw: str) -> str | None:
    """The canonical name of a database the daemon tails (`account/ab/cd/...`, `accounts`, `services`), from
    any listed form of it; None for every other database (MODBs, system and foreign ones)."""
    parsed = parse_db_name(raw)
    if parsed is not None:
        return None if parsed.is_modb else account_db(parsed.account_id)
    return next((name for name in SHARED_DBS if raw == couch.db(name).name), None)


def tailed_databases(couch: Couch) -> set[str]:
    """Every database to tail that exists now (one `_all_dbs`)."""
    names = (tailed_name(couch, raw) for raw in couch.all_dbs())
    return {name for name in names if name}


def lease_key(name: str) -> str:
    """What decides which worker tails a database: its account id, or the shared database's own name."""
    parsed = parse_db_name(name)
    return parsed.account_id if parsed is not None else name
