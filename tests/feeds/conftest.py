"""Fixtures of the daemon's tests: fresh account databases (random account ids) on the session server."""

from __future__ import annotations

import uuid

import pytest

from bookkeeper.dbnames import account_db


@pytest.fixture
def account_dbs(new_db):
    """`account_dbs()`: a fresh, empty KAZOO account database (`account/ab/cd/...`); deleted after the test."""
    return lambda: new_db(name=account_db(uuid.uuid4().hex))


@pytest.fixture
def daemon_config(config, couch):
    """Settings for an in-process daemon: any free metrics port; its bookkeeper DB deleted afterwards."""
    yield config.model_copy(update={"metrics_port": 0, "worker_id": "w1"})
    couch.db(config.bookkeeper_db).delete()
