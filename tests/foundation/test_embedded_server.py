"""The embedded server's launcher (`embedded/pouchdb-server.js`): its O(1) database lookup answers exactly as the
unpatched server does when databases come and go, in memory and on disk (where KAZOO's `/` names are
directories)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bookkeeper.couch import Couch, NotFound
from bookkeeper.dbnames import account_db
from bookkeeper.embedded import EmbeddedServer, free_port


def _names(prefix: str) -> list[str]:
    return [f"{prefix}plain", account_db(uuid.uuid4().hex)]


def _come_and_go(couch: Couch, name: str) -> None:
    db = couch.db(name)
    assert db.create()
    db.put({"_id": "a", "n": 1})
    assert db.get("a")["n"] == 1  # known now: the fast path answers
    db.delete()
    assert not db.exists()
    with pytest.raises(NotFound) as missing:
        db.get("a")  # not recreated by a stale lookup
    assert missing.value.error == "not_found"
    assert name not in couch.all_dbs() and name.replace("/", "") not in couch.all_dbs()
    assert db.create()
    assert db.get_or_none("a") is None  # a new, empty database
    assert db.info()["doc_count"] == 0
    db.delete()


def test_a_deleted_database_is_gone_at_once_and_comes_back_empty(couch, prefix):
    for name in _names(prefix):
        _come_and_go(couch, name)


def test_an_unknown_database_is_not_found_while_others_are_served(couch, prefix, new_db):
    served = new_db("served")
    served.put({"_id": "x"})
    for _ in range(3):
        assert served.get("x")["_id"] == "x"
        assert not couch.db(f"{prefix}never").exists()
        with pytest.raises(NotFound):
            couch.db(f"{prefix}never").get("x")
    assert f"{prefix}never" not in couch.all_dbs()


@pytest.mark.slow
def test_on_disk_kazoo_names_survive_a_restart_and_deletion(tmp_path: Path):
    server = EmbeddedServer(tmp_path, free_port()).start()
    try:
        couch = Couch(server.url, retries=3)
        for name in _names("disk-"):
            _come_and_go(couch, name)
        kept = couch.db(account_db(uuid.uuid4().hex))
        kept.create()
        kept.put({"_id": "kept"})
        server.stop()
        server.start()
        assert kept.get("kept")["_id"] == "kept"
        kept.delete()
        assert not kept.exists()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The embedded server itself, whatever server the rest of the suite runs against."""
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded"), free_port(), in_memory=True).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_the_server_runs_through_the_launcher(embedded):
    cmdline = Path(f"/proc/{embedded.pid()}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1].endswith(b"embedded/pouchdb-server.js")


def test_node_runs_with_the_young_generation_and_heap_limit_the_bench_needs(embedded):
    environ = dict(v.split(b"=", 1) for v in Path(f"/proc/{embedded.pid()}/environ").read_bytes().split(b"\0") if v)
    flags = environ[b"NODE_OPTIONS"].split()
    assert b"--max-semi-space-size=64" in flags and b"--max-old-space-size=8192" in flags


@pytest.mark.slow
def test_databases_made_and_deleted_side_by_side_are_each_found_or_not(tmp_path: Path):
    """A fresh server (its lookup not filled yet) while databases are created, used and deleted concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    server = EmbeddedServer(tmp_path, free_port(), in_memory=True).start()
    try:
        couch = Couch(server.url, retries=3)
        names = [account_db(uuid.uuid4().hex) for _ in range(24)]

        def make_and_use(name: str) -> None:
            db = couch.db(name)
            db.create()
            db.put({"_id": "a"})
            assert db.get("a")["_id"] == "a"

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(make_and_use, names))
            list(pool.map(lambda name: couch.db(name).delete(), names[::2]))
        for i, name in enumerate(names):
            db = couch.db(name)
            if i % 2:
                assert db.get("a")["_id"] == "a"
            else:
                assert not db.exists()
                with pytest.raises(NotFound):
                    db.get("a")
    finally:
        server.stop()
