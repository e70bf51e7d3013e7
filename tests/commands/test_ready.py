"""`bookkeeper run` says once where to look when it is up; `config show` says when the embedded server is in use
(issue 19.13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bookkeeper import provision
from bookkeeper.config import load_config
from bookkeeper.couch import Couch, redact
from bookkeeper.embedded import free_port
from cli import main

BIN = Path(sys.executable).parent / "bookkeeper"


@pytest.mark.slow
def test_run_prints_one_ready_line_with_the_urls(own_server, tmp_path):
    namespace = f"rdy{uuid.uuid4().hex[:8]}-"
    couch = Couch(own_server.url, namespace=namespace)
    config = load_config(env={}, couch_url=own_server.url, namespace=namespace)
    master = provision.new_account_id()
    provision.create_account(couch, config, master, "Master", [], datetime.now(UTC))
    metrics, hooks = free_port(), free_port()
    env = {
        **os.environ,
        "BOOKKEEPER_COUCH_URL": own_server.url,
        "BOOKKEEPER_NAMESPACE": namespace,
        "BOOKKEEPER_MASTER_ACCOUNT": master,
    }
    with open(tmp_path / "log", "w") as log:  # the daemon holds its own descriptor
        proc = subprocess.Popen(
            [str(BIN), "run", "--worker-id", "w1", "--metrics-port", str(metrics), "--hooks-port", str(hooks)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        line = proc.stdout.readline()
        fauxton = redact(own_server.url).rstrip("/") + "/_utils/"  # never the credentials
        assert line == (
            f"ready: worker w1; Fauxton {fauxton}; metrics http://127.0.0.1:{metrics}"
            f"/metrics (health /health); hooks http://127.0.0.1:{hooks}/hooks/<gateway>/<reseller_id>\n"
        )
        assert requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()  # a no-op once it has exited; never left running past a failure
        provision.remove(couch, config, [master])
    assert proc.returncode == 0 and out == ""  # one line, once


def test_config_show_says_the_embedded_server_is_in_use(tmp_path):
    env = {
        "BOOKKEEPER_COUCH_URL": "",
        "BOOKKEEPER_VAR_DIR": str(tmp_path),
        "BOOKKEEPER_EMBEDDED_PORT": "5999",
        "BOOKKEEPER_CONFIG": "",
    }
    shown = CliRunner().invoke(main, ["config", "show"], env=env)
    assert shown.exit_code == 0
    assert (
        f"couch_url = http://127.0.0.1:5999 (the embedded server, data in {tmp_path / 'couch'}; set "
        "BOOKKEEPER_COUCH_URL to use another)"
    ) in shown.output.splitlines()
    external = CliRunner().invoke(main, ["config", "show"], env={**env, "BOOKKEEPER_COUCH_URL": "http://u:p@db:5984"})
    assert "couch_url = http://db:5984" in external.output.splitlines()
