"""Leases: two workers split the buckets fairly; one takes over when the other's leases expire."""

from __future__ import annotations

import time
import uuid

import pytest

from feeds.leases import Leases, bucket_of, fair_share


@pytest.mark.slow  # waits for a lease to expire
def test_two_workers_split_the_buckets_and_one_takes_over_after_expiry(new_db):
    db = new_db("bookkeeper")
    a = Leases(db, "worker-a", buckets=16, ttl=1.0)
    b = Leases(db, "worker-b", buckets=16, ttl=1.0)
    assert len(a.renew()) == 16  # alone: everything
    assert b.renew() == set()  # all held and unexpired
    assert len(a.renew()) == 8  # two live workers: a releases its excess
    assert len(b.renew()) == 8
    assert a.held() | b.held() == set(range(16)) and not a.held() & b.held()
    assert a.live_workers() == {"worker-a", "worker-b"}
    keys = [uuid.uuid4().hex for _ in range(50)]
    assert all(a.owns(k) != b.owns(k) for k in keys)
    assert all(a.owns(k) == (bucket_of(k, 16) in a.held()) for k in keys)

    time.sleep(1.1)  # a stops renewing: its leases and heartbeat expire
    assert not any(a.owns(k) for k in keys)
    assert len(b.renew()) == 16
    assert all(b.owns(k) for k in keys)


def test_release_hands_everything_over_at_once(new_db):
    db = new_db("bookkeeper")
    a = Leases(db, "worker-a", buckets=8, ttl=60)
    b = Leases(db, "worker-b", buckets=8, ttl=60)
    a.renew()
    b.renew()
    a.renew()
    assert len(b.renew()) == 4
    a.release()
    assert b.live_workers() == {"worker-b"}
    assert len(b.renew()) == 8


def test_a_restarted_worker_adopts_its_heartbeat(new_db):
    db = new_db("bookkeeper")
    Leases(db, "w", buckets=4, ttl=60).renew()
    assert len(Leases(db, "w", buckets=4, ttl=60).renew()) == 4


def test_fair_share():
    assert [fair_share(64, n) for n in (0, 1, 2, 3, 64, 100)] == [64, 64, 32, 22, 1, 1]
