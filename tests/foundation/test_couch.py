"""The CouchDB layer against a real PouchDB Server."""

import threading
import time

import pytest
from testserver import start_test_server

from bookkeeper.couch import Conflict, Couch, NotFound, Unavailable
from bookkeeper.databases import account_databases
from bookkeeper.dbnames import account_db, modb

ACCT = "5c36900d63069782e4e0b0ad2f131e45"


def test_kazoo_database_names_work_and_are_found_in_every_listing(couch, prefix):
    acct = prefix[1:11].ljust(32, "0")  # a unique, valid account id per test
    dbs = [couch.db(account_db(acct)), couch.db(modb(acct, 2026, 11))]
    try:
        for db in dbs:
            assert db.create() is True
            assert db.create() is False  # already there
            db.put({"_id": "doc/with/slash", "v": 1})
            assert db.get("doc/with/slash")["v"] == 1
        accounts, modbs = account_databases(couch)
        assert account_db(acct) in accounts and modb(acct, 2026, 11) in modbs
    finally:
        for db in dbs:
            db.delete()


def test_conflict_is_typed_and_missing_is_not_found(new_db):
    db = new_db()
    db.put({"_id": "a", "v": 1})
    with pytest.raises(Conflict) as exc:
        db.put({"_id": "a", "v": 2})
    assert exc.value.status == 409
    with pytest.raises(NotFound):
        db.get("nope")
    assert db.get_or_none("nope") is None


def test_bulk_results_are_keyed_by_id(new_db):
    db = new_db()
    db.put({"_id": "d3"})
    docs = [{"_id": f"d{i}", "n": i} for i in range(10)]
    results = db.bulk_docs(docs)
    assert set(results) == {f"d{i}" for i in range(10)}
    assert results["d3"]["error"] == "conflict"
    assert all(results[f"d{i}"].get("ok") for i in range(10) if i != 3)


def test_design_doc_and_local_ids_keep_their_slash(new_db):
    db = new_db()
    db.put({"_id": "_local/checkpoint", "seq": 5})
    assert db.get("_local/checkpoint")["seq"] == 5
    db.put({"_id": "_design/x", "views": {"all": {"map": "function(d){emit(d._id, 1)}", "reduce": "_sum"}}})
    db.put({"_id": "y"})
    assert db.view("x", "all")["rows"][0]["value"] == 1


def test_continuous_feed_delivers_changes_and_resumes(new_db):
    db = new_db()
    db.put({"_id": "before"})
    seq0 = db.changes(include_docs=False)["last_seq"]
    got = []

    def writer():
        time.sleep(0.3)  # on purpose: write while the feed is open (since=seq0 would deliver them either way)
        db.put({"_id": "a"})
        db.put({"_id": "b"})

    threading.Thread(target=writer).start()
    for row in db.follow(since=seq0, heartbeat_ms=500):
        got.append(row)
        if len(got) == 2:
            break
    assert [r["id"] for r in got] == ["a", "b"]
    resumed = db.changes(since=got[0]["seq"])["results"]
    assert [r["id"] for r in resumed] == ["b"]


@pytest.mark.slow
def test_calls_are_retried_while_the_server_restarts(tmp_path):
    srv = start_test_server(tmp_path, persistent=True, restarts=True)  # on disk, so data survives the restart
    try:
        client = Couch(srv.url, retries=8, backoff=0.2, timeout=5)
        db = client.db("survivor").ensure()
        db.put({"_id": "kept", "v": 1})
        srv.stop()
        with pytest.raises(Unavailable):
            Couch(srv.url, retries=0).db("survivor").get("kept")
        restarter = threading.Timer(1.0, srv.start)
        restarter.start()
        assert db.get("kept")["v"] == 1  # retried with backoff until the server was back
        restarter.join()
    finally:
        srv.stop()
