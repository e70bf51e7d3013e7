"""Lease documents are validated, not trusted (issue: hostile input, point 5): a malformed expiry, a ghost
worker's far-future heartbeat or a ghost bucket lease neither kill the daemon's control thread nor leave buckets
unserved; `/health` fails when a bucket is unserved or a thread has died."""

from __future__ import annotations

import json
import threading
import time
import urllib.error

import pytest
from recording import RecordingEngine
from test_daemon import FAST, _get
from waiting import wait_until

from feeds.daemon import Daemon
from feeds.leases import LEASE_PREFIX, WORKER_PREFIX, Leases


@pytest.mark.slow  # waits for a lease to expire
def test_malformed_and_far_future_leases_expire_within_a_ttl(new_db):
    db = new_db("bookkeeper")
    db.bulk_docs(
        [
            {"_id": f"{LEASE_PREFIX}0000", "owner": "ghost", "expires": "soon"},
            {"_id": f"{LEASE_PREFIX}0001", "owner": "ghost", "expires": time.time() + 10**9},
            {"_id": f"{LEASE_PREFIX}0002", "owner": ["ghost"], "expires": time.time() + 10**9},
            {"_id": f"{WORKER_PREFIX}ghost", "owner": "ghost", "expires": time.time() + 10**9},
            {"_id": f"{WORKER_PREFIX}ghost2", "owner": "ghost2", "expires": "never"},
        ]
    )
    leases = Leases(db, "w", buckets=4, ttl=1.0)
    held = leases.renew()  # a share of 2 while the ghost's heartbeat counts; bucket 1 is the ghost's for a TTL
    assert len(held) == 2 and 1 not in held
    assert leases.live_workers() == {"w", "ghost"}
    time.sleep(1.1)  # on purpose: the TTL runs out
    assert leases.renew() == {0, 1, 2, 3}
    assert leases.live_workers() == {"w"}
    assert leases.unserved() == []


@pytest.mark.slow
def test_health_fails_while_a_bucket_is_unserved_or_a_thread_died(couch, daemon_config):
    options = FAST  # a lease TTL of 3 s
    db = couch.db(daemon_config.bookkeeper_db).ensure()
    db.put({"_id": f"{LEASE_PREFIX}0003", "owner": "w1", "expires": "soon"})  # killed the control thread
    stuck = Leases(db, "stuck", buckets=options.lease_buckets, ttl=3.0)  # alive, but takes no bucket
    stop = threading.Event()

    def beat():
        while not stop.wait(0.2):
            stuck._beat(time.time() + 3.0)

    beating = threading.Thread(target=beat, daemon=True)
    stuck._beat(time.time() + 3.0)
    beating.start()
    daemon = Daemon(couch, daemon_config, RecordingEngine(), options=options).start()
    try:

        def health():
            try:
                return json.loads(_get(daemon.metrics_server.port, "/health"))
            except urllib.error.HTTPError as exc:  # 503: not ok, the same JSON
                assert exc.code == 503
                return json.loads(exc.read())

        wait_until(lambda: len(health()["unserved_buckets"]) == 4, timeout=20)
        status = health()
        assert status["ok"] is False and len(status["unserved_buckets"]) == 4 and status["leases"] == 4
        stop.set()
        beating.join()
        wait_until(lambda: health()["ok"], timeout=20)  # the stuck worker's heartbeat expired: all 8 served
        assert health()["leases"] == 8 and health()["dead_threads"] == []
        assert daemon._control.is_alive()
        daemon.ticker.scheduler.shutdown(wait=False)
        status = health()
        assert status["ok"] is False and status["dead_threads"] == ["scheduler"]
    finally:
        stop.set()
        daemon.stop()
