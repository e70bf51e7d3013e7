"""Fixtures: one real PouchDB Server per test session (in memory, free port); each test gets its own databases
under a unique prefix, deleted afterwards. No mock of CouchDB anywhere."""

from __future__ import annotations

import uuid

import pytest

from bookkeeper.config import load_settings
from bookkeeper.couch import Couch, Database
from bookkeeper.embedded import EmbeddedServer, free_port


def start_server(tmp_path_factory) -> EmbeddedServer:
    return EmbeddedServer(tmp_path_factory.mktemp("couch-var"), free_port(), in_memory=True).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A server for one test module alone (a daemon tails every account DB on its server)."""
    srv = start_server(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def couch(server) -> Couch:
    return Couch(server.url, retries=3)


@pytest.fixture
def prefix() -> str:
    """A unique database-name prefix for this test."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def new_db(couch, prefix):
    """`new_db(suffix="", name=None)`: a fresh empty database (`name`, else the test's prefix and `suffix`); every
    one is deleted after the test."""
    made: list[Database] = []

    def make(suffix: str = "", name: str | None = None) -> Database:
        db = couch.db(name or f"{prefix}{suffix or uuid.uuid4().hex[:6]}")
        db.create()
        made.append(db)
        return db

    yield make
    for db in made:
        db.delete()


@pytest.fixture
def settings(server, tmp_path, prefix):
    """Settings pointing at the test server, with this test's own bookkeeper DB."""
    return load_settings(env={}, couch_url=server.url, var_dir=tmp_path, bookkeeper_db=f"{prefix}bookkeeper")
