"""The daemon in process against the real server: followed and polled databases, discovery, leases, metrics."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request

import pytest
from recording import RecordingEngine, caught_up
from testserver import SERVER, on_couchdb
from waiting import wait_until

from bookkeeper.couch import DB_UPDATES_DELAY_ADVISED_MS, DB_UPDATES_DELAY_SETTING, Couch
from feeds.checkpoints import checkpoint_id
from feeds.consumer import Consumer
from feeds.daemon import Daemon
from feeds.drainqueue import DrainQueue
from feeds.metrics import scrape
from feeds.options import FeedOptions

FAST = FeedOptions(
    follow_cap=1,
    heartbeat_ms=500,
    poll_interval=0.1,
    discovery_interval=0.3,
    tick_interval=3600,
    lease_buckets=8,
    lease_ttl=3.0,
)


def _get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return resp.read().decode()


@pytest.mark.parametrize("db_updates", [True, False], ids=["db_updates", "per-db-feeds"])
def test_tails_the_databases_and_picks_up_new_ones(couch, daemon_config, account_dbs, db_updates):
    """With `_db_updates` (CouchDB) one feed tells which databases changed; without it (PouchDB Server, or CouchDB
    told not to use it) one database has its own continuous feed (follow_cap=1) and the others are polled."""
    if db_updates and not on_couchdb():
        pytest.skip("PouchDB Server has no _db_updates: its path is the per-db-feeds case")
    first, second = account_dbs(), account_dbs()
    first.put({"_id": "before-start"})
    engine = RecordingEngine()
    options = dataclasses.replace(FAST, use_db_updates=db_updates)
    daemon = Daemon(couch, daemon_config, engine, options=options).start()
    try:
        wait_until(lambda: "before-start" in engine.ids(first.name))
        first.put({"_id": "live-1"})
        second.put({"_id": "live-2"})
        wait_until(lambda: "live-1" in engine.ids(first.name) and "live-2" in engine.ids(second.name))
        third = account_dbs()  # created while running: found by `_db_updates`, else by the next `_all_dbs` diff
        third.put({"_id": "new"})
        wait_until(lambda: "new" in engine.ids(third.name))
        third.put({"_id": "newer"})
        wait_until(lambda: "newer" in engine.ids(third.name))
        assert engine.ticks, "the start-up tick ran"
        samples = scrape(daemon.metrics_server.port)
        assert samples["bookkeeper_databases_followed"] == (0 if db_updates else 1)
        assert samples["bookkeeper_changes_handled_total"] >= 3 and "bookkeeper_feed_lag_seconds" in samples
        health = json.loads(_get(daemon.metrics_server.port, "/health"))
        assert health["ok"] and health["worker"] == "w1" and health["db_updates"] is db_updates
        assert health["databases"] >= 3 and health["leases"] == 8
        third.delete()  # a deleted database is no longer tailed
        wait_until(lambda: third.name not in daemon.tailer.consumers)
    finally:
        daemon.stop()
    for db in (first, second):
        assert engine.ids(db.name).count(engine.ids(db.name)[0]) == 1  # nothing handled twice
        assert caught_up(db, db.get(checkpoint_id("billing"))["seq"], engine.ids(db.name))


def test_on_a_cluster_without_db_updates_every_notice_is_read_again(couch, daemon_config, account_dbs):
    """A feed row or a moved `update_seq` comes from the fastest copy of each shard; the drain reads the copies its
    checkpoint names, which may not have that write yet. So on a cluster each notice is followed by two more drains
    (0.5 s and 3 s later); one copy (PouchDB Server, one CouchDB node) needs none."""
    followed, polled = account_dbs(), account_dbs()
    engine = RecordingEngine()
    daemon = Daemon(couch, daemon_config, engine, options=dataclasses.replace(FAST, use_db_updates=False)).start()
    try:
        wait_until(lambda: {followed.name, polled.name} <= set(daemon.tailer.consumers))
        followed.put({"_id": "one"})
        polled.put({"_id": "two"})
        wait_until(lambda: "one" in engine.ids(followed.name) and "two" in engine.ids(polled.name))
        if couch.copies() > 1:
            assert daemon.tailer.rechecks == (0.5, 3.0)
            wait_until(lambda: daemon.metrics.value("feed_rechecks") >= 4, what="two rechecks per database")
        else:
            assert daemon.tailer.rechecks == ()
            assert daemon.metrics.value("feed_rechecks") == 0
    finally:
        daemon.stop()
    assert engine.ids(followed.name) == ["one"] and engine.ids(polled.name) == ["two"]  # read again, handled once


def test_a_notice_is_drained_at_once_even_with_a_recheck_queued_later():
    """The drain queue holds a consumer once, due at the earlier of the times it was asked for, unless it is
    waiting out a failure's backoff."""
    queue, consumer = DrainQueue(), Consumer(Couch("http://127.0.0.1:1"), "account/ab/cd/x")
    queue.put(consumer, 30.0)
    queue.put(consumer)
    assert len(queue) == 1
    assert queue.get() is consumer and consumer.queued is None and len(queue) == 0
    queue.put(consumer, 0.05)
    queue.put(consumer, 30.0)  # a later due time changes nothing
    assert queue.get() is consumer and len(queue) == 0
    consumer.failures = 1  # waiting out a failure's backoff: a notice does not cut it short
    queue.put(consumer, 0.3)
    queue.put(consumer)
    began = time.monotonic()
    assert queue.get() is consumer and time.monotonic() - began >= 0.25
    queue.close()
    assert queue.get() is None


def test_how_often_couchdb_reports_database_updates_is_read_and_a_slow_batching_warned_of(couch, daemon_config, caplog):
    """CouchDB writes what `_db_updates` reports every `[global_changes] max_write_delay` ms (500 unless set), so
    a change can wait that long before it is charged: the daemon shows the node's value in /health and warns at
    start-up beyond twice the advised 50 ms. The nodes the tests start are set as advised; PouchDB Server has no
    `_db_updates`, so there is nothing to read or warn of."""
    if not on_couchdb():
        daemon = Daemon(couch, daemon_config, RecordingEngine(), options=FAST).start()
        daemon.stop()
        assert daemon.health()["db_updates_delay_ms"] is None and "max_write_delay" not in caplog.text
        return
    before = couch.json("GET", DB_UPDATES_DELAY_SETTING)
    if SERVER in ("couchdb", "cluster"):
        assert before == str(DB_UPDATES_DELAY_ADVISED_MS)
    couch.json("PUT", DB_UPDATES_DELAY_SETTING, body="500")
    try:
        daemon = Daemon(couch, daemon_config, RecordingEngine(), options=FAST).start()
        try:
            assert daemon.health()["db_updates_delay_ms"] == 500
        finally:
            daemon.stop()
    finally:
        couch.json("PUT", DB_UPDATES_DELAY_SETTING, body=before)
    warned = [r.getMessage() for r in caplog.records if "max_write_delay" in r.getMessage()]
    assert warned == [
        "CouchDB reports database updates every 500 ms ([global_changes] max_write_delay): each change waits up "
        "to that long before it is charged; set it to 50 on every node (docs/operations.md)"
    ]


def test_engine_failures_are_retried_without_losing_rows(couch, daemon_config, account_dbs):
    db = account_dbs()
    engine = RecordingEngine(fail_next=2)
    daemon = Daemon(couch, daemon_config, engine, options=FAST).start()
    try:
        db.bulk_docs([{"_id": "x"}, {"_id": "y"}])
        wait_until(lambda: sorted(engine.ids(db.name)) == ["x", "y"], timeout=15)
        assert daemon.metrics.value("engine_errors") == 2
    finally:
        daemon.stop()


@pytest.mark.slow  # waits for a lease to expire
def test_two_daemons_split_the_databases_and_one_takes_over(couch, daemon_config, account_dbs):
    dbs = [account_dbs() for _ in range(6)]
    one, two = RecordingEngine(), RecordingEngine()
    d1 = Daemon(couch, daemon_config, one, options=FAST).start()
    d2 = Daemon(couch, daemon_config.model_copy(update={"worker_id": "w2"}), two, options=FAST).start()
    try:
        wait_until(lambda: len(d1.leases.held()) == len(d2.leases.held()) == 4, timeout=10)
        assert not d1.leases.held() & d2.leases.held()
        ours = {db.name for db in dbs}
        wait_until(
            lambda: (
                ours <= set(d1.tailer.consumers) | set(d2.tailer.consumers)
                and not set(d1.tailer.consumers) & set(d2.tailer.consumers)
            )
        )
        for i, db in enumerate(dbs):
            db.put({"_id": f"doc-{i}"})
        wait_until(lambda: all(f"doc-{i}" in one.ids(db.name) + two.ids(db.name) for i, db in enumerate(dbs)))
        d1.stop()  # releases its leases: w2 takes everything over
        wait_until(lambda: len(d2.leases.held()) == 8, timeout=10)
        for i, db in enumerate(dbs):
            db.put({"_id": f"after-{i}"})
        wait_until(lambda: all(f"after-{i}" in two.ids(db.name) for i, db in enumerate(dbs)), timeout=15)
    finally:
        d1.stop()
        d2.stop()
