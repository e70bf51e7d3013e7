"""`bookkeeper couch start|status|stop` and the CLI's error contract, as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bookkeeper.embedded import free_port

BIN = Path(sys.executable).parent / "bookkeeper"


def run(*args, env=None):
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


@pytest.mark.slow
def test_couch_start_status_stop(tmp_path):
    env = {"BOOKKEEPER_VAR_DIR": str(tmp_path), "BOOKKEEPER_EMBEDDED_PORT": str(free_port())}
    started = run("couch", "start", "--in-memory", "--json", env=env)
    assert started.returncode == 0, started.stderr
    status = json.loads(run("couch", "status", "--json", env=env).stdout)
    assert status["answers"] is True and status["pid"] == json.loads(started.stdout)["pid"]
    assert (tmp_path / "log").is_dir()
    stopped = run("couch", "stop", "--json", env=env)
    assert json.loads(stopped.stdout) == {"stopped": True}
    after = run("couch", "status", env=env)
    assert after.returncode == 1 and "not answering" in after.stdout
    assert json.loads(run("couch", "stop", "--json", env=env).stdout) == {"stopped": False}


def test_help_lists_the_command_groups():
    out = run("--help").stdout
    for group in ("couch", "views", "config"):
        assert group in out


def test_bad_setting_is_one_line_and_exit_2():
    bad = run("config", "show", env={"BOOKKEEPER_MASTER_ACCOUNT": "not-an-id"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: BOOKKEEPER_MASTER_ACCOUNT: Value error, must be a 32-hex KAZOO account id"


@pytest.mark.slow
def test_environment_over_settings_file_over_defaults(tmp_path):
    toml = tmp_path / "bookkeeper.toml"
    toml.write_text('couch_url = "http://127.0.0.1:1"\nlease_ttl = 12\nworker_id = "from-file"\n')
    shown = json.loads(
        run(
            "--config",
            str(toml),
            "config",
            "show",
            "--json",
            env={"BOOKKEEPER_WORKER_ID": "from-env", "BOOKKEEPER_LEASE_TTL": ""},
        ).stdout
    )
    assert (shown["worker_id"], shown["lease_ttl"], shown["feed_tick_interval"]) == ("from-env", 12.0, 300.0)


@pytest.mark.slow
def test_a_bad_settings_file_names_the_file_and_the_field(tmp_path):
    toml = tmp_path / "bookkeeper.toml"
    toml.write_text("lease_ttl = -1\n")
    bad = run("--config", str(toml), "config", "show")
    assert (bad.returncode, bad.stderr.strip()) == (2, f"error: {toml}: lease_ttl: Input should be greater than 0")
    missing = run("--config", str(tmp_path / "none.toml"), "config", "show")
    assert missing.stderr.strip() == f"error: {tmp_path / 'none.toml'}: cannot read settings: no such file"


@pytest.mark.slow
def test_credentials_are_never_printed():
    out = run("config", "show", "--json", env={"BOOKKEEPER_COUCH_URL": "http://admin:s3cret@127.0.0.1:1"}).stdout
    assert "s3cret" not in out and json.loads(out)["couch_url"] == "http://127.0.0.1:1"
