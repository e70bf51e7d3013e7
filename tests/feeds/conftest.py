"""Fixtures of the daemon's tests: fresh account databases (random account ids) on the session server."""

from __future__ import annotations

import time
import uuid

import pytest

from bookkeeper.dbnames import account_db


@pytest.fixture
def account_dbs(couch):
    """`account_dbs()`: a fresh, empty KAZOO account database (`account/ab/cd/...`); deleted after the test."""
    made = []

    def make():
        db = couch.db(account_db(uuid.uuid4().hex))
        db.create()
        made.append(db)
        return db

    yield make
    for db in made:
        db.delete()


def wait_until(check, timeout: float = 10.0, every: float = 0.05):
    """Poll `check()` until it is truthy; its last value, or an AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(every)


@pytest.fixture
def daemon_settings(settings, couch):
    """Settings for an in-process daemon: any free metrics port; its bookkeeper DB deleted afterwards."""
    yield settings.model_copy(update={"metrics_port": 0, "worker_id": "w1"})
    couch.db(settings.bookkeeper_db).delete()
