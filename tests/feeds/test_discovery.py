"""Discovery: which databases are tailed, in every form their names are listed; the server probe."""

from __future__ import annotations

from testserver import on_couchdb

from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db, encode, modb
from feeds.discovery import lease_key, probe, tailed_databases, tailed_name
from feeds.tailing import db_updates_events

ACCOUNT = "5c36900d63069782e4e0b0ad2f131e45"


def test_tailed_names_in_every_form(couch):
    raw = account_db(ACCOUNT)
    flat = raw.replace("/", "")
    assert tailed_name(couch, raw) == tailed_name(couch, flat) == tailed_name(couch, encode(raw)) == raw
    assert tailed_name(couch, modb(ACCOUNT, 2026, 11)) is None
    assert tailed_name(couch, modb(ACCOUNT, 2026, 11).replace("/", "")) is None
    assert tailed_name(couch, "accounts") == "accounts" and tailed_name(couch, "services") == "services"
    assert tailed_name(couch, "_users") is None and tailed_name(couch, "bookkeeper") is None


def test_shared_databases_are_matched_in_their_namespace(server):
    spaced = Couch(server.url, namespace="sim1-")
    assert tailed_name(spaced, "sim1-accounts") == "accounts"
    assert tailed_name(spaced, "accounts") is None


def test_the_probe_finds_db_updates_on_couchdb_and_not_on_pouchdb_server(couch):
    features = probe(couch)
    if on_couchdb():
        assert features.vendor == "The Apache Software Foundation" and features.db_updates is True
    else:
        assert features.vendor == "PouchDB authors" and features.db_updates is False
    assert probe(couch, db_updates=False).db_updates is False  # the fallback, when asked for


def test_tailed_databases_lists_account_dbs_but_not_modbs(couch, account_dbs):
    db = account_dbs()
    month = couch.db(db.name + "-202611")
    month.create()
    try:
        found = tailed_databases(couch)
        assert db.name in found and month.name not in found
    finally:
        month.delete()


def test_db_updates_rows_are_read_as_events(couch):
    rows = [
        {"db_name": account_db(ACCOUNT), "type": "created", "seq": "1-x"},
        {"db_name": modb(ACCOUNT, 2026, 11), "type": "updated"},
        {"db_name": "services", "type": "updated"},
        {"db_name": account_db(ACCOUNT), "type": "deleted"},
    ]
    assert db_updates_events(couch, rows) == [
        (account_db(ACCOUNT), "created"),
        ("services", "updated"),
        (account_db(ACCOUNT), "deleted"),
    ]


def test_lease_key_is_the_account_or_the_database():
    assert lease_key(account_db(ACCOUNT)) == ACCOUNT and lease_key("services") == "services"
