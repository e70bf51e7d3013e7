"""Consuming a database: batches to the engine, the checkpoint written only after they are handled."""

from __future__ import annotations

import pytest
from recording import RecordingEngine, at_end

from feeds.catchup import catch_up
from feeds.checkpoints import checkpoint_id, positional, read_checkpoint, seq_number, valid_seq
from feeds.consumer import Consumer, EngineFailed
from feeds.metrics import Metrics


def _docs(db, *ids):
    db.bulk_docs([{"_id": i, "n": n} for n, i in enumerate(ids)])


def test_rows_come_with_docs_in_seq_order_and_the_checkpoint_follows(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a", "b", "c", "d", "e")
    engine, metrics = RecordingEngine(), Metrics()
    seqs = catch_up(couch, engine, [db.name], metrics=metrics, batch_size=2)
    assert [len(rows) for _, rows in engine.batches] == [2, 2, 1]
    assert sorted(engine.ids(db.name)) == ["a", "b", "c", "d", "e"]
    assert all(row["doc"]["_id"] == row["id"] for _, rows in engine.batches for row in rows)
    assert seqs == {db.name: db.get(checkpoint_id("billing"))["seq"]} and at_end(db, seqs[db.name])
    assert metrics.value("changes_handled") == 5


def test_a_failed_batch_is_delivered_again_and_not_checkpointed(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a", "b", "c")
    engine, metrics = RecordingEngine(fail_next=1), Metrics()
    with pytest.raises(EngineFailed):
        catch_up(couch, engine, [db.name], metrics=metrics)
    assert db.get_or_none(checkpoint_id("billing")) is None
    assert metrics.value("engine_errors") == 1
    catch_up(couch, engine, [db.name], metrics=metrics)
    assert sorted(engine.ids(db.name)) == ["a", "b", "c"]


def test_a_failure_mid_stream_keeps_the_batches_before_it(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a", "b", "c", "d")
    engine = RecordingEngine()
    consumer = Consumer(couch, db.name)
    consumer.drain(engine, Metrics(), limit=2)
    _docs(db, "e")
    engine.fail_next = 1
    with pytest.raises(EngineFailed):
        Consumer(couch, db.name).drain(engine, Metrics(), limit=2)
    assert seq_number(read_checkpoint(db, "billing").seq) == 4
    Consumer(couch, db.name).drain(engine, Metrics(), limit=2)
    assert engine.ids(db.name).count("e") == 1 and len(engine.ids(db.name)) == 5


def test_a_restart_resumes_from_the_checkpoint_with_nothing_lost_or_repeated(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a", "b")
    engine = RecordingEngine()
    catch_up(couch, engine, [db.name])
    db.put({"_id": "a", "_rev": db.get("a")["_rev"], "changed": True})
    _docs(db, "c")
    catch_up(couch, engine, [db.name])  # a new Consumer: reads the checkpoint from the database
    catch_up(couch, engine, [db.name])
    ids = engine.ids(db.name)  # rows of one batch in any order on a cluster (shards)
    assert len(ids) == 4 and sorted(ids[:2]) == ["a", "b"] and sorted(ids[2:]) == ["a", "c"]
    assert next(row for row in engine.batches[1][1] if row["id"] == "a")["doc"]["changed"] is True


def test_a_corrupt_checkpoint_restarts_from_zero(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a", "b")
    db.put({"_id": checkpoint_id("billing"), "seq": "garbage"})  # PouchDB would answer it with an empty feed
    engine = RecordingEngine()
    catch_up(couch, engine, [db.name])
    assert sorted(engine.ids(db.name)) == ["a", "b"]
    assert at_end(db, db.get(checkpoint_id("billing"))["seq"])


def test_a_checkpoint_ahead_of_the_database_restarts_from_zero_and_is_logged(account_dbs, couch, caplog):
    db = account_dbs()
    _docs(db, "a", "b")
    head = db.info()["update_seq"]
    ahead = head + 1000 if isinstance(head, int) else f"{seq_number(head) + 1000}-{head.split('-', 1)[1]}"
    db.put({"_id": checkpoint_id("billing"), "seq": ahead})  # e.g. the database was restored from a backup
    engine = RecordingEngine()
    catch_up(couch, engine, [db.name])
    assert at_end(db, db.get(checkpoint_id("billing"))["seq"])
    if positional(db.info()):
        assert sorted(engine.ids(db.name)) == ["a", "b"]
        assert f"checkpoint _local/bookkeeper-billing in {db.name} is ahead of the database" in caplog.text
        assert "restarting from 0" in caplog.text
    else:  # a cluster: the number sums shard copies' counters, so it is not compared; the rest of the seq is
        assert engine.ids(db.name) == [] and "ahead of the database" not in caplog.text


def test_consumers_have_separate_checkpoints(account_dbs, couch):
    db = account_dbs()
    _docs(db, "a")
    first, second = RecordingEngine(), RecordingEngine()
    catch_up(couch, first, [db.name], consumer="one")
    catch_up(couch, second, [db.name], consumer="two")
    assert first.ids(db.name) == second.ids(db.name) == ["a"]


@pytest.mark.parametrize(
    "seq, ok",
    [
        (0, True),
        (17, True),
        ("12-g1AAAAB3eJzLYWBg", True),
        ("5", True),
        (-1, False),
        (True, False),
        ("now", False),
        ("garbage", False),
        (None, False),
        ([1], False),
        ("1-", False),
    ],
)
def test_valid_seq(seq, ok):
    assert valid_seq(seq) is ok


def test_seq_number_reads_both_dialects():
    assert seq_number(12) == 12 and seq_number("34-g1AAAA") == 34 and seq_number(None) == 0
