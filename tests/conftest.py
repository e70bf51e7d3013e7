"""Fixtures: one real server per test session (the one `BOOKKEEPER_TEST_SERVER` selects, see testserver.py: PouchDB
Server in memory by default, or Apache CouchDB: a node, a cluster, a URL; free ports, data under pytest's tmp
dir); each test gets its own databases under a unique prefix, deleted afterwards. No mock of CouchDB anywhere."""

from __future__ import annotations

import uuid

import pytest
from testserver import SERVER, start_test_server

from bookkeeper.config import load_config
from bookkeeper.couch import Couch, Database


def pytest_report_header(config):
    return f"test server: {SERVER} (BOOKKEEPER_TEST_SERVER)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A `long(seconds)` test that passed but took longer than its budget fails."""
    outcome = yield
    report = outcome.get_result()
    mark = item.get_closest_marker("long")
    if mark and report.when == "call" and report.passed and report.duration > mark.args[0]:
        report.outcome = "failed"
        report.longrepr = f"over its time budget: {report.duration:.0f} s > {mark.args[0]} s (pytest.mark.long)"


def start_server(tmp_path_factory):
    return start_test_server(tmp_path_factory.mktemp("couch-var"))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A server for one test module alone (a daemon tails every account DB on its server); with a URL, that
    server, shared."""
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
def config(server, tmp_path, prefix):
    """Settings pointing at the test server, with this test's own bookkeeper DB."""
    return load_config(env={}, couch_url=server.url, var_dir=tmp_path, bookkeeper_db=f"{prefix}bookkeeper")
