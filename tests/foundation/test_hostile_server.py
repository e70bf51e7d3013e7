"""The server side of hostile input (issue: hostile input, points 8 and 12): `bookkeeper couch start` keeps the
server admins over a restart; the daemon's hooks and metrics listen on 127.0.0.1 unless configured."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from bookkeeper.config import load_config
from bookkeeper.embedded import free_port
from bookkeeper.gateways import make_app, serve
from cli import main
from feeds.metrics import Metrics, MetricsServer


def couch_cli(tmp_path, port, *args):
    result = CliRunner().invoke(main, ["couch", *args, "--port", str(port)], env={"BOOKKEEPER_VAR_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
def test_couch_start_keeps_the_server_admins_over_a_restart(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    couch_cli(tmp_path, port, "start")
    try:
        assert requests.put(
            f"{url}/_config/admins/root", data='"s3cret"', timeout=10, headers={"Content-Type": "application/json"}
        ).ok
        assert requests.get(f"{url}/_config", timeout=10).status_code == 401
        couch_cli(tmp_path, port, "stop")
        couch_cli(tmp_path, port, "start")
        assert requests.get(f"{url}/_config", timeout=10).status_code == 401  # not back to admin party
        assert requests.get(f"{url}/_config", auth=("root", "s3cret"), timeout=10).status_code == 200
    finally:
        couch_cli(tmp_path, port, "stop")


@pytest.mark.parametrize("configured, address", [(None, "127.0.0.1"), ("::1", "::1")])
def test_hooks_and_metrics_listen_on_loopback_unless_configured(couch, tmp_path, configured, address):
    env = {"BOOKKEEPER_HOOKS_HOST": configured, "BOOKKEEPER_METRICS_HOST": configured} if configured else {}
    config = load_config(env=env, var_dir=tmp_path)
    hooks = serve(make_app(couch, config), config.hooks_host, 0)
    metrics = MetricsServer(Metrics(), 0, lambda: {"ok": True}, host=config.metrics_host).start()
    try:
        assert hooks.sock.getsockname()[0] == address and metrics.httpd.server_address[0] == address
        host = f"[{address}]" if ":" in address else address
        assert requests.get(f"http://{host}:{hooks.port}/health", timeout=10).json() == {"ok": True}
        assert requests.get(f"http://{host}:{metrics.port}/health", timeout=10).json() == {"ok": True}
    finally:
        hooks.stop()
        metrics.stop()
