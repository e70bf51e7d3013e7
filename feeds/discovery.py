"""Which databases the daemon tails, and what the server can tell it about them.

Tailed: every KAZOO account DB (not the monthly `-YYYYMM` ones) plus `accounts` and `services`. The server is
probed once at start-up: CouchDB 3 and Cloudant have `_db_updates` (one feed reports every created, updated and
deleted database); PouchDB Server answers it with 400, so there the daemon diffs `_all_dbs` periodically.
PouchDB Server lists `account/ab/cd/...` flattened (`accountabcd...`); names are returned canonical.
"""

from __future__ import annotations

from dataclasses import dataclass

from bookkeeper.couch import DB_UPDATES_DELAY_DEFAULT_MS, DB_UPDATES_DELAY_SETTING, Couch, CouchError
from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, parse_db_name

SHARED_DBS = (ACCOUNTS_DB, SERVICES_DB)


@dataclass(frozen=True)
class ServerFeatures:
    vendor: str
    version: str
    db_updates: bool
    db_updates_delay_ms: int | None = None  # None: no `_db_updates`, or its node's configuration is not ours to read


def probe(couch: Couch, db_updates: bool = True) -> ServerFeatures:
    """The server's vendor, whether it has `_db_updates` we may read (400/404: absent; 401/403: not ours), and
    if so how long its node batches them; `db_updates` False: not asked, taken as absent."""
    info = couch.info()
    vendor, version = str((info.get("vendor") or {}).get("name") or "unknown"), str(info.get("version", ""))
    if not db_updates:
        return ServerFeatures(vendor, version, False)
    try:
        couch.request("GET", "/_db_updates", params={"limit": 1}, retry=False)
    except CouchError as exc:
        if exc.status not in (400, 401, 403, 404, 405, 501):
            raise
        return ServerFeatures(vendor, version, False)
    return ServerFeatures(vendor, version, True, db_updates_delay_ms(couch))


def db_updates_delay_ms(couch: Couch) -> int | None:
    """The node's `[global_changes] max_write_delay` (its default when unset); None when the node's configuration
    cannot be read (not a server admin, Cloudant) or holds no number."""
    try:
        value = couch.json("GET", DB_UPDATES_DELAY_SETTING, retry=False)
    except CouchError as exc:
        if exc.status == 404:
            return DB_UPDATES_DELAY_DEFAULT_MS
        if exc.status in (400, 401, 403, 405, 501):
            return None
        raise
    try:
        return int(str(value).strip())
    except ValueError:
        return None


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
