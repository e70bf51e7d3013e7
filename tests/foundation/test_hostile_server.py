"""The server side of hostile input (issue: hostile input, points 8 and 12): `bookkeeper couch start` keeps the
server admins over a restart; the daemon's hooks and metrics listen on 127.0.0.1 unless configured."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from bookkeeper.config import load_config
from bookkeeper.embedded import free_port
from cli import main


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


def test_hooks_and_metrics_listen_on_loopback_unless_configured(tmp_path):
    config = load_config(env={}, var_dir=tmp_path)
    assert (config.hooks_host, config.metrics_host) == ("127.0.0.1", "127.0.0.1")
    configured = load_config(
        env={"BOOKKEEPER_HOOKS_HOST": "0.0.0.0", "BOOKKEEPER_METRICS_HOST": "::1"}, var_dir=tmp_path
    )
    assert (configured.hooks_host, configured.metrics_host) == ("0.0.0.0", "::1")
