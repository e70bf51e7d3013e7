"""Rows of a continuous feed are handed to the consumer: a drain right behind the feed handles them without
reading `_changes`; a drain anywhere else reads, so nothing is skipped or handled twice."""

from __future__ import annotations

import pytest
from recording import RecordingEngine
from testserver import on_cluster
from waiting import wait_until

from feeds import consumer as consumer_module
from feeds.consumer import Consumer
from feeds.metrics import Metrics
from feeds.options import FeedOptions
from feeds.tailing import Tailer

pytestmark = pytest.mark.skipif(
    on_cluster(),
    reason="a cluster's seqs name the shard copies that answered, so a "
    "feed's rows hardly ever start exactly at a checkpoint read elsewhere: these "
    "continuous-feed shortcuts are PouchDB Server's (CouchDB is tailed by _db_updates)",
)


class CountingReads:
    """Counts the `_changes` reads made through one Database object (the real server answers them)."""

    def __init__(self, db):
        self.db, self.reads, self._changes = db, 0, db.changes
        db.changes = self

    def __call__(self, *args, **kw):
        self.reads += 1
        return self._changes(*args, **kw)


def _feed_rows(db, since):
    """The rows a continuous feed would deliver after `since`, as (after, row) pairs."""
    rows = db.changes(since, include_docs=True)["results"]
    return list(zip([since, *(r["seq"] for r in rows)], rows, strict=False))  # the last seq follows no row


def test_rows_right_after_the_checkpoint_are_handled_without_a_read(couch, account_dbs):
    db = account_dbs()
    consumer, engine = Consumer(couch, db.name), RecordingEngine()
    consumer.drain(engine, Metrics())  # checkpoint at the (empty) start
    start = consumer.position()
    db.bulk_docs([{"_id": i, "n": 1} for i in ("a", "b", "c")])
    db.put({"_id": "deleted-later"})
    db.delete_doc("deleted-later", db.get("deleted-later")["_rev"])
    offered = _feed_rows(db, start)
    reads = CountingReads(consumer.db)
    for after, row in offered:
        consumer.offer(after, row)
    assert consumer.drain(engine, Metrics()) == offered[-1][1]["seq"]
    assert reads.reads == 0
    assert engine.ids(db.name) == ["a", "b", "c", "deleted-later"]
    assert engine.batches[-1][1][0]["doc"]["n"] == 1 and engine.batches[-1][1][-1]["deleted"] is True
    assert consumer.drain(engine, Metrics()) == offered[-1][1]["seq"]  # nothing buffered: one read, nothing new
    assert reads.reads == 1 and len(engine.ids(db.name)) == 4


def test_a_gap_is_read_and_the_rows_it_covered_are_not_handled_twice(couch, account_dbs):
    db = account_dbs()
    consumer, engine = Consumer(couch, db.name), RecordingEngine()
    consumer.drain(engine, Metrics())
    start = consumer.position()
    db.put({"_id": "missed"})  # the feed connected after this one
    connected = db.info()["update_seq"]
    db.put({"_id": "fed"})
    for after, row in _feed_rows(db, connected):
        consumer.offer(after, row)
    reads = CountingReads(consumer.db)
    consumer.drain(engine, Metrics())  # its checkpoint is before the feed's start: it reads, and sees both
    assert reads.reads == 1 and engine.ids(db.name) == ["missed", "fed"]
    last = consumer.position()
    db.put({"_id": "next"})
    for after, row in _feed_rows(db, last):
        consumer.offer(after, row)
    consumer.drain(engine, Metrics())  # the buffered "fed" was dropped; "next" follows the checkpoint
    assert reads.reads == 1 and engine.ids(db.name) == ["missed", "fed", "next"]
    assert consumer.position() == db.info()["update_seq"] != start


def test_past_the_buffer_the_rows_are_dropped_and_read(couch, account_dbs, monkeypatch):
    monkeypatch.setattr(consumer_module, "BUFFER", 2)
    db = account_dbs()
    consumer, engine = Consumer(couch, db.name), RecordingEngine()
    consumer.drain(engine, Metrics())
    db.bulk_docs([{"_id": i} for i in ("a", "b", "c")])
    for after, row in _feed_rows(db, consumer.position()):
        consumer.offer(after, row)
    reads = CountingReads(consumer.db)
    consumer.drain(engine, Metrics())
    assert reads.reads == 1 and sorted(engine.ids(db.name)) == ["a", "b", "c"]


def test_a_followed_database_is_handled_from_its_feed(couch, account_dbs):
    db = account_dbs()
    engine = RecordingEngine()
    tailer = Tailer(
        couch, engine, Metrics(), FeedOptions(follow_cap=10, drain_workers=2, use_leases=False), db_updates=False
    ).start()
    try:
        tailer.sync({db.name})
        db.put({"_id": "first"})
        wait_until(lambda: "first" in engine.ids(db.name))
        reads = CountingReads(tailer.consumers[db.name].db)
        for i in range(5):
            db.put({"_id": f"d{i}"})
            wait_until(lambda i=i: f"d{i}" in engine.ids(db.name))
        assert reads.reads == 0
    finally:
        tailer.stop()
    assert engine.ids(db.name) == ["first"] + [f"d{i}" for i in range(5)]
