"""An account with its account DB on the real test server; every database of the account is deleted afterwards
(admin deletes only: a refused DELETE would wedge PouchDB Server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from waiting import wait_until

from bookkeeper.clock import SimulatedClock
from bookkeeper.couch import Couch, CouchError, Database
from bookkeeper.dbnames import account_db, parse_db_name
from bookkeeper.ledger import Ledger

NOW = datetime(2026, 6, 15, tzinfo=UTC)  # the ledger's clock: after every month the tests write into
MASTER = "0" * 32  # the master the accounts below name (give it as BOOKKEEPER_MASTER_ACCOUNT to the CLI)


@pytest.fixture
def account(couch):
    """A customer of MASTER: its account DB, and its document in `accounts` (the CLI refuses unknown accounts)."""
    account_id = uuid.uuid4().hex
    couch.db(account_db(account_id)).create()
    accounts = couch.db("accounts").ensure()
    couch.db("services").ensure()  # read with `accounts` to find the account's reseller
    accounts.put({"_id": account_id, "pvt_type": "account", "pvt_tree": [MASTER]})
    yield account_id
    accounts.delete_doc(account_id, accounts.get(account_id)["_rev"])
    for name in couch.all_dbs():
        parsed = parse_db_name(name)
        if parsed is not None and parsed.account_id == account_id:
            couch.db(
                account_db(account_id) + (f"-{parsed.year:04d}{parsed.month:02d}" if parsed.is_modb else "")
            ).delete()


@pytest.fixture(params=["4.3", "4.2"])
def dialect(request) -> str:
    return request.param


@pytest.fixture
def ledger(couch, dialect) -> Ledger:
    return Ledger(couch, dialect, clock=SimulatedClock(NOW))


@pytest.fixture
def member(couch, server):
    """`member(name, db_name)`: `db_name` as a new non-admin user `name` sees it, made a member of it (CouchDB 3
    opens a new database to admins only); waits until the server lets the new user in (CouchDB caches users)."""

    def make(name: str, db_name: str) -> Database:
        couch.db("_users").put(
            {"_id": f"org.couchdb.user:{name}", "name": name, "password": "pw", "roles": [], "type": "user"}
        )
        db = couch.db(db_name)
        db.couch.json(
            "PUT",
            f"{db.path}/_security",
            body={"admins": {"names": [], "roles": []}, "members": {"names": [name], "roles": []}},
        )
        url = urlsplit(server.url)
        user = Couch(urlunsplit((url.scheme, f"{name}:pw@{url.hostname}:{url.port}", "", "", "")), retries=0)

        def accepted() -> bool:
            try:
                return bool(user.db(db_name).info())
            except CouchError:
                return False

        wait_until(accepted, timeout=15)
        return user.db(db_name)

    return make
