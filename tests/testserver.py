"""The one switch that picks the server every test runs against: env `BOOKKEEPER_TEST_SERVER` = `embedded` (the
default: PouchDB Server, in memory), `couchdb` (one Apache CouchDB 3.5 node), `cluster` (three CouchDB nodes) or a
CouchDB URL. Every fixture or test that starts a server starts it through `start_test_server`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bookkeeper.servers import ExternalServer, make_server

SERVER = os.environ.get("BOOKKEEPER_TEST_SERVER", "").strip() or "embedded"


def start_test_server(var_dir: Path, *, persistent: bool = False, restarts: bool = False):
    """A started server of the selected kind, its data under `var_dir`. `persistent`: its data must survive a
    restart; `restarts`: the test stops and starts it (a server given by URL is not ours to stop: skipped)."""
    server = make_server(SERVER, var_dir, persistent=persistent)
    if restarts and isinstance(server, ExternalServer):
        pytest.skip("stops and restarts its server: a server given by URL is not ours to stop")
    return server.start()


def on_cluster() -> bool:
    """True when the tests run against the three-node CouchDB cluster."""
    return SERVER == "cluster"


def on_couchdb() -> bool:
    """True when the tests run against Apache CouchDB (a node, a cluster or a URL), not PouchDB Server."""
    return SERVER != "embedded"
