"""A production install: `pip install .` (not editable, no extras) into a fresh virtualenv gives a `bookkeeper` that
works against an external CouchDB with no Node.js on the PATH; the systemd unit in `deploy/` passes
`systemd-analyze verify`. (The container image in `deploy/Containerfile` runs the same `pip install`; building it
needs a container runtime, see docs/operations.md.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bookkeeper.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("production") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(PROJECT_ROOT)], check=True, timeout=900)
    return venv


def bookkeeper(venv: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "bookkeeper"), *args], env=env, cwd=venv, capture_output=True, text=True, timeout=300
    )


def test_the_installed_command_bills_an_external_couchdb_without_node(venv, own_server, tmp_path):
    env = {
        "PATH": str(venv / "bin"),
        "BOOKKEEPER_COUCH_URL": own_server.url,
        "BOOKKEEPER_NAMESPACE": "prod-",
        "BOOKKEEPER_VAR_DIR": str(tmp_path),
    }
    assert shutil.which("node", path=env["PATH"]) is None
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bookkeeper, views; print(views.__file__)"],
        env=env,
        cwd=venv,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv))  # the installed copy, not the checkout

    installed = bookkeeper(venv, env, "views", "install", "--json")
    assert installed.returncode == 0, installed.stderr
    loaded = bookkeeper(venv, env, "demo", "load", "--json")
    assert loaded.returncode == 0, loaded.stderr
    ran = bookkeeper(venv, env, "run", "--once", "--metrics-port", "0", "--hooks-port", "0", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["charges_written"] > 0


def test_without_a_couchdb_url_it_says_so_instead_of_starting_node(venv, tmp_path):
    env = {"PATH": str(venv / "bin"), "BOOKKEEPER_VAR_DIR": str(tmp_path)}
    result = bookkeeper(venv, env, "ledger", "balance", "0123456789abcdef0123456789abcdef")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: the embedded server is not installed (a checkout's scripts/setup "
        "installs it); set BOOKKEEPER_COUCH_URL to your CouchDB"
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(venv, tmp_path):
    unit = (PROJECT_ROOT / "deploy" / "couch-bookkeeper.service").read_text()
    assert "ExecStart=/opt/couch-bookkeeper/bin/bookkeeper run" in unit
    local = tmp_path / "couch-bookkeeper.service"
    local.write_text(unit.replace("/opt/couch-bookkeeper", str(venv)))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if str(local) in line]
    assert result.returncode == 0 and not problems, result.stderr
