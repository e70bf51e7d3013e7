"""Deferred checkpoints (`checkpoint_interval`): handled seqs move in memory at once and reach the `_local` doc
at most every interval, on stop, on drop and at the end of `--once`; a crash re-delivers, never skips."""

from __future__ import annotations

import time

import pytest
from recording import RecordingEngine, at_end
from testserver import start_test_server
from waiting import wait_until

from bookkeeper.couch import Couch
from feeds import tailing
from feeds.catchup import catch_up
from feeds.checkpoints import checkpoint_id
from feeds.consumer import Consumer
from feeds.metrics import Metrics
from feeds.options import FeedOptions
from feeds.tailing import Tailer

LONG = 3600.0  # never reached within a test: only stop, drop, flush and the end of `--once` write


def _docs(db, *ids):
    db.bulk_docs([{"_id": i} for i in ids])


def _stored(db):
    return db.get_or_none(checkpoint_id("billing"))


def _writes(doc) -> int:
    """How many times a `_local` doc was written: its rev is `0-<n>` (PouchDB Server and CouchDB)."""
    return int(doc["_rev"].split("-")[1]) if doc else 0


def _tailer(couch, engine, interval: float, metrics: Metrics | None = None) -> Tailer:
    options = FeedOptions(
        follow_cap=0, poll_interval=0.05, drain_workers=2, use_leases=False, checkpoint_interval=interval
    )
    return Tailer(couch, engine, metrics or Metrics(), options, db_updates=False).start()


def test_a_large_interval_defers_the_writes_and_stop_writes_the_final_seq(couch, account_dbs):
    db = account_dbs()
    engine = RecordingEngine()
    tailer = _tailer(couch, engine, LONG)
    try:
        tailer.sync({db.name})
        for round_ in range(3):  # three separate drains, each reading from the seq the one before left in memory
            _docs(db, f"r{round_}-a", f"r{round_}-b")
            wait_until(lambda r=round_: f"r{r}-b" in engine.ids(db.name))
        consumer = tailer.consumers[db.name]
        assert len(engine.batches) >= 3
        assert at_end(db, consumer.position()) and consumer.dirty
        assert _stored(db) is None  # no PUT on the drain path
    finally:
        tailer.stop()
    assert sorted(engine.ids(db.name)) == sorted(f"r{r}-{x}" for r in range(3) for x in "ab")  # each once
    stored = _stored(db)
    assert at_end(db, stored["seq"]) and _writes(stored) == 1
    assert not consumer.dirty


@pytest.mark.slow
def test_the_flusher_writes_dirty_checkpoints_every_interval(couch, account_dbs):
    db = account_dbs()
    engine = RecordingEngine()
    tailer = _tailer(couch, engine, 0.5)
    try:
        tailer.sync({db.name})
        for i in range(8):  # eight drains in about 1.2 s
            db.put({"_id": f"d{i}"})
            wait_until(lambda i=i: f"d{i}" in engine.ids(db.name))
            time.sleep(0.15)  # on purpose: the drains spread over several flush intervals
        assert len(engine.batches) == 8
        wait_until(lambda: at_end(db, (_stored(db) or {}).get("seq")), timeout=5)  # no stop
        assert 1 <= _writes(_stored(db)) < 8
    finally:
        tailer.stop()
    assert at_end(db, _stored(db)["seq"])


@pytest.mark.slow
def test_the_flusher_writes_each_checkpoint_an_interval_after_its_first_unwritten_change(
    couch, account_dbs, monkeypatch
):
    monkeypatch.setattr(tailing, "FLUSH_ROUND", 0.1)
    early, late = account_dbs(), account_dbs()
    engine = RecordingEngine()
    tailer = _tailer(couch, engine, 2.0)
    try:
        tailer.sync({early.name, late.name})
        early.put({"_id": "e"})
        wait_until(lambda: "e" in engine.ids(early.name))
        handled = time.monotonic()
        time.sleep(1.2)  # on purpose: nothing is written for most of an interval
        assert _stored(early) is None
        late.put({"_id": "l"})
        wait_until(lambda: "l" in engine.ids(late.name))
        wait_until(lambda: _stored(early), timeout=5)
        assert time.monotonic() - handled >= 1.9
        assert _stored(late) is None  # dirty for about 0.8 s when the early one is written: not yet
        wait_until(lambda: _stored(late), timeout=5)
        assert _writes(_stored(early)) == 1
    finally:
        tailer.stop()


def test_a_drain_writes_itself_once_its_unwritten_progress_is_an_interval_old(couch, account_dbs):
    db = account_dbs()
    consumer, engine = Consumer(couch, db.name, checkpoint_interval=0.3), RecordingEngine()
    _docs(db, "a")
    consumer.drain(engine, Metrics())
    assert _stored(db) is None and consumer.dirty  # no flusher here: nothing else writes it
    time.sleep(0.35)  # on purpose: the unwritten progress grows older than the interval
    _docs(db, "b")
    consumer.drain(engine, Metrics())
    assert at_end(db, _stored(db)["seq"]) and not consumer.dirty


def test_interval_zero_writes_after_every_batch_as_before(couch, account_dbs):
    db = account_dbs()
    _docs(db, "a", "b", "c", "d", "e")
    consumer, engine = Consumer(couch, db.name, checkpoint_interval=0), RecordingEngine()
    assert at_end(db, consumer.drain(engine, Metrics(), limit=2))
    assert [len(rows) for _, rows in engine.batches] == [2, 2, 1]
    stored = _stored(db)
    assert at_end(db, stored["seq"]) and _writes(stored) == 3 and not consumer.dirty

    live = account_dbs()
    tailer = _tailer(couch, engine, 0)
    try:
        assert "checkpoints" not in [t.name for t in tailer._threads]  # no flusher: nothing is ever deferred
        tailer.sync({live.name})
        for i in range(3):
            live.put({"_id": f"x{i}"})
            wait_until(lambda: at_end(live, (_stored(live) or {}).get("seq")))  # before any stop
        assert _writes(_stored(live)) == 3
    finally:
        tailer.stop()


def test_after_a_crash_the_changes_since_the_written_checkpoint_are_delivered_again(couch, account_dbs):
    db = account_dbs()
    first = RecordingEngine()
    crashed = Consumer(couch, db.name, checkpoint_interval=LONG)
    _docs(db, "a", "b")
    crashed.drain(first, Metrics())
    assert crashed.flush() is True  # the flusher's round: written up to b
    written = _stored(db)["seq"]
    _docs(db, "c")
    crashed.drain(first, Metrics())
    _docs(db, "d")
    crashed.drain(first, Metrics())
    ids = first.ids(db.name)  # a and b in one change batch: in any order on a cluster (two shards)
    assert sorted(ids[:2]) == ["a", "b"] and ids[2:] == ["c", "d"] and crashed.dirty
    assert _stored(db)["seq"] == written  # ... and the process dies here: no stop, no flush

    second = RecordingEngine()
    restarted = Consumer(couch, db.name, checkpoint_interval=LONG)
    assert restarted.position() == written
    restarted.drain(second, Metrics())
    assert sorted(second.ids(db.name)) == ["c", "d"]  # at-least-once: c and d again, a and b not, nothing skipped
    restarted.flush()
    assert at_end(db, _stored(db)["seq"])


def test_dropping_a_consumer_writes_its_checkpoint(couch, account_dbs):
    db = account_dbs()
    engine = RecordingEngine()
    tailer = _tailer(couch, engine, LONG)
    try:
        tailer.sync({db.name})
        _docs(db, "a", "b")
        wait_until(lambda: sorted(engine.ids(db.name)) == ["a", "b"])
        assert _stored(db) is None
        tailer.sync(set())  # its lease lost
        assert db.name not in tailer.consumers
        wait_until(lambda: at_end(db, (_stored(db) or {}).get("seq")), timeout=5)
    finally:
        tailer.stop()


def test_once_leaves_every_checkpoint_written(couch, account_dbs):
    dbs = [account_dbs() for _ in range(2)]
    for db in dbs:
        _docs(db, "a", "b", "c", "d", "e")
    engine = RecordingEngine()
    seqs = catch_up(couch, engine, [db.name for db in dbs], batch_size=2, checkpoint_interval=LONG)
    for db in dbs:
        stored = _stored(db)
        assert seqs[db.name] == stored["seq"] and at_end(db, stored["seq"])
        assert _writes(stored) == 1  # three batches, one write


@pytest.mark.slow
def test_a_failed_flush_is_counted_and_retried_not_raised(tmp_path):
    srv = start_test_server(tmp_path, persistent=True, restarts=True)  # on disk: the data survives the outage
    try:
        couch = Couch(srv.url, retries=1, backoff=0.05, timeout=3)
        db = couch.db("flush-outage")
        db.create()
        _docs(db, "a", "b")
        engine, metrics = RecordingEngine(), Metrics()
        tailer = Tailer(
            couch,
            engine,
            metrics,
            FeedOptions(follow_cap=0, use_leases=False, checkpoint_interval=LONG),
            db_updates=False,
        )  # not started: this test plays the flusher
        consumer = tailer.add(db.name)
        consumer.drain(engine, metrics)
        srv.stop()
        assert tailer.flush() == 1  # the server is down: counted, logged, not raised, still dirty
        assert metrics.value("feed_errors") == 1 and consumer.dirty
        srv.start()
        assert tailer.flush() == 0  # the next round
        assert at_end(db, _stored(db)["seq"]) and not consumer.dirty
    finally:
        srv.stop()
