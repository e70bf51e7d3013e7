"""`Database.update`, the one read-modify-write with the one retry-on-409 policy, against the real server."""

import threading
from functools import partial

import pytest
from testserver import on_cluster

from bookkeeper.couch import CONFLICT_ATTEMPTS, Conflict, Couch, retry_conflicts
from bookkeeper.servers import CouchDBServer, launcher_available


def test_two_writers_racing_on_one_document_both_land(new_db):
    """A's change reads the document, then B writes it before A does: A's write meets 409, A reads again and
    applies its change to B's document, so neither change is lost."""
    db = new_db()
    db.put({"_id": "doc", "names": []})
    seen_by_a = []

    def add(name):
        def change(doc):
            doc["names"] = [*doc["names"], name]
            return doc

        return change

    def a_change(doc):
        seen_by_a.append(list(doc["names"]))
        if len(seen_by_a) == 1:  # B wins the race between A's read and A's write
            db.update("doc", add("b"))
        return add("a")(doc)

    written = db.update("doc", a_change)
    assert seen_by_a == [[], ["b"]]  # called again on what B wrote
    assert db.get("doc")["names"] == ["b", "a"]
    assert written["_rev"] == db.get("doc")["_rev"]


def test_concurrent_writers_lose_no_change(new_db):
    """Two writers, 15 changes each, on one document: every change lands. Each change records what it did (as
    every change the engine makes does), so no two writers ever write the same content on the same revision."""
    db = new_db()
    start = threading.Barrier(2)

    def record(mark):
        def change(doc):
            doc = doc or {"marks": []}
            if mark not in doc["marks"]:
                doc["marks"].append(mark)
            return doc

        return change

    def writer(name):
        start.wait()
        for i in range(15):
            db.update("counter", record(f"{name}{i}"))

    threads = [threading.Thread(target=writer, args=(name,)) for name in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(db.get("counter")["marks"]) == sorted(f"{n}{i}" for n in "ab" for i in range(15))


def test_a_change_to_a_document_left_in_conflict_goes_on_the_winner_and_a_cluster_drops_the_loser(new_db):
    """A document left with two live branches (as a race on a cluster, or a replication, leaves one): the change
    is made on the winner CouchDB picks (the greater revision id at one depth). On a cluster `update` then deletes
    the other branch, so that no writer holding it can build on it later; on one server a conflict comes only
    from a replication, and it is left as it is."""
    db = new_db()
    first = db.put({"_id": "doc", "marks": []}).split("-")[1]
    branches = [
        {"_id": "doc", "_rev": f"2-{c * 32}", "marks": [c], "_revisions": {"start": 2, "ids": [c * 32, first]}}
        for c in "ab"
    ]
    db.couch.json(
        "POST", f"{db.path}/_bulk_docs", body={"new_edits": False, "docs": branches}, params={"w": db.couch.copies()}
    )

    def record(doc):
        doc["marks"].append("c")
        return doc

    written = db.update("doc", record)
    doc = db.get("doc", conflicts="true")
    assert (doc["marks"], doc["_rev"]) == (["b", "c"], written["_rev"])
    assert doc.get("_conflicts") == (None if on_cluster() else [f"2-{'a' * 32}"])


def test_writers_holding_each_branch_of_a_conflict_both_keep_their_change(new_db):
    """Two writers each hold one branch of a document in conflict (as a read that missed a copy leaves them) and
    change it. Every copy takes each write (201), since each extends a live branch; on a cluster `update` settles
    even so: the first write's branch wins and the other is deleted, so the second write meets 409 there and is
    made again on the winner, which then holds both changes. On one server a conflict comes only from a
    replication, and each change stays on its branch."""
    db = new_db()
    first = db.put({"_id": "doc", "marks": []}).split("-")[1]
    branches = {
        c: {"_id": "doc", "_rev": f"2-{c * 32}", "marks": [c], "_revisions": {"start": 2, "ids": [c * 32, first]}}
        for c in "ab"
    }
    db.couch.json(
        "POST",
        f"{db.path}/_bulk_docs",
        body={"new_edits": False, "docs": list(branches.values())},
        params={"w": db.couch.copies()},
    )
    for held, mark in (("a", "x"), ("b", "y")):
        db.update("doc", lambda doc, mark=mark: {**doc, "marks": [*doc["marks"], mark]}, current=branches[held])
    doc = db.get("doc", conflicts="true")
    if on_cluster():
        assert (doc["marks"], doc.get("_conflicts")) == (["a", "x", "y"], None)
    else:
        (loser,) = doc["_conflicts"]
        kept = {tuple(doc["marks"]), tuple(db.get("doc", rev=loser)["marks"])}
        assert kept == {("a", "x"), ("b", "y")}


def test_a_missing_document_is_created_and_a_declined_change_writes_nothing(new_db):
    db = new_db()
    assert db.update("new", lambda doc: {"v": 1} if doc is None else None)["_rev"].startswith("1-")
    rev = db.get("new")["_rev"]
    assert db.update("new", lambda doc: None) is None  # refused: leave it as it is
    assert db.get("new") == {"_id": "new", "_rev": rev, "v": 1}


def test_a_local_document_is_changed_like_any_other(new_db):
    """`_local/` documents (feed checkpoints) have no revision tree: on a cluster nothing is settled for them."""
    db = new_db()
    for v in (1, 2):
        db.update("_local/mark", lambda doc, v=v: {**(doc or {}), "v": v})
    assert db.get("_local/mark")["v"] == 2


def test_an_error_in_the_change_writes_nothing(new_db):
    db = new_db()
    db.put({"_id": "doc", "v": 1})

    def refuse(doc):
        raise ValueError("no")

    with pytest.raises(ValueError):
        db.update("doc", refuse)
    assert db.get("doc")["v"] == 1


def test_a_held_document_saves_the_first_read_and_a_stale_one_is_read_again(new_db):
    db = new_db()
    held = {"_id": "doc", "v": 1}
    db.put(held)
    calls = []

    def change(doc):
        calls.append(doc["v"])
        return {**doc, "v": doc["v"] + 1}

    db.update("doc", change, current=held)
    assert calls == [1] and db.get("doc")["v"] == 2
    assert held["v"] == 1  # the caller's copy is not modified
    calls.clear()
    db.update("doc", change, current=held)  # stale revision: 409, then the server's document
    assert calls == [1, 2] and db.get("doc")["v"] == 3


@pytest.mark.slow
def test_exhaustion_raises_a_conflict_naming_the_document(new_db):
    db = new_db()
    db.put({"_id": "busy", "v": 0})
    calls = []

    def always_overtaken(doc):
        calls.append(doc["_rev"])
        db.put({**db.get("busy"), "v": len(calls)})  # another writer, every time
        return {**doc, "mine": True}

    with pytest.raises(Conflict) as exc:
        db.update("busy", always_overtaken)
    assert len(calls) == CONFLICT_ATTEMPTS
    assert exc.value.path == f"{db.name}/busy"
    assert str(exc.value) == (
        f"CouchDB 409 conflict: changed by another writer on each of {CONFLICT_ATTEMPTS} attempts ({db.name}/busy)"
    )
    assert "mine" not in db.get("busy")


@pytest.mark.slow
def test_retry_conflicts_names_what_is_still_conflicting(new_db):
    db = new_db()
    db.put({"_id": "x"})
    left = ["x", "y"]

    def attempt():
        left[:] = left[:1]
        db.put({"_id": "x"})  # no _rev: 409 every time

    with pytest.raises(Conflict) as exc:
        retry_conflicts(lambda: f"{db.name}/{', '.join(left)}", attempt)
    assert exc.value.path == f"{db.name}/x"


@pytest.mark.long(240)
def test_on_a_cluster_writers_at_different_nodes_lose_no_increment_even_with_a_node_down(tmp_path):
    """On three nodes (n=3) two writers of one revision may each be taken by some copies (202 for both, the
    document left in conflict): `update` must notice and redo the losing change. Each writer talks to its own
    node and records its own token (as the invoice counter records each claimant); then again with node 3
    killed, where every write is a 202. No token may be lost; one may be recorded twice (a cluster cannot tell a
    writer whether its 202 write won for sure), which is why every change given to `update` is idempotent."""
    if not launcher_available():
        pytest.skip("starts its own CouchDB cluster: no CouchDB launcher here (docs/operations.md)")
    cluster = CouchDBServer(tmp_path / "cluster", nodes=3, kind="cluster").start()
    try:
        Couch(cluster.url).request("PUT", "/counters")

        def add_token(token: str, doc: dict | None) -> dict:
            return {"tokens": [*(doc or {}).get("tokens", []), token]}

        def race(nodes: list[int], rounds: int, tag: str) -> None:
            start = threading.Barrier(len(nodes))

            def writer(k: int) -> None:
                db = Couch(cluster.node_url(k)).db("counters")
                start.wait()
                for i in range(rounds):
                    db.update("counter", partial(add_token, f"{tag}{k}-{i}"))

            threads = [threading.Thread(target=writer, args=(k,)) for k in nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)

        race([1, 2, 3], 20, "up")
        tokens = Couch(cluster.url).db("counters").get("counter", r=3)["tokens"]
        assert set(tokens) == {f"up{k}-{i}" for k in (1, 2, 3) for i in range(20)}  # none lost
        cluster.kill(3)
        race([1, 2], 20, "down")
        tokens = Couch(cluster.node_url(1)).db("counters").get("counter")["tokens"]
        assert {t for t in tokens if t.startswith("down")} == {f"down{k}-{i}" for k in (1, 2) for i in range(20)}
    finally:
        cluster.stop()
