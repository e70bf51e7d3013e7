"""Which databases exist and what kind each is: KAZOO's `accounts` and `services`, account DBs, monthly DBs,
and the bookkeeper's own DB. Names from `_all_dbs` are parsed in every form (PouchDB Server flattens slashes)."""

from __future__ import annotations

from . import designdocs
from .config import Config
from .couch import Couch
from .dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, modb, parse_db_name


def account_databases(couch: Couch) -> tuple[list[str], list[str]]:
    """(account DB names, monthly DB names) on the server, in canonical unencoded form."""
    accounts, modbs = set(), set()
    for raw in couch.all_dbs():
        parsed = parse_db_name(raw)
        if parsed is None:
            continue
        if parsed.month_of is not None:
            modbs.add(modb(parsed.account_id, *parsed.month_of))
        else:
            accounts.add(account_db(parsed.account_id))
    return sorted(accounts), sorted(modbs)


def ensure_core(couch: Couch, config: Config) -> None:
    """Create KAZOO's shared databases and ours if missing, with their design documents."""
    for name, kind in ((ACCOUNTS_DB, "accounts"), (SERVICES_DB, "services"), (config.bookkeeper_db, "bookkeeper")):
        designdocs.install_kind(couch.db(name).ensure(), kind)


def install_views(couch: Couch, config: Config, all_accounts: bool = False) -> dict[str, list[str]]:
    """Install every design document where it belongs; {database: [design docs written]}."""
    targets = [(ACCOUNTS_DB, "accounts"), (SERVICES_DB, "services"), (config.bookkeeper_db, "bookkeeper")]
    if all_accounts:
        accounts, modbs = account_databases(couch)
        targets += [(n, "account") for n in accounts] + [(n, "modb") for n in modbs]
    written = {}
    for name, kind in targets:
        names = designdocs.install_kind(couch.db(name).ensure(), kind)
        if names:
            written[name] = names
    return written
