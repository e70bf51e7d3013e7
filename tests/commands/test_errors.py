"""What an operator sees when something is wrong: one line on stderr, exit 2, no traceback, no raw CouchDB text
(issues 19.9, 20.11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bookkeeper.dbnames import account_db
from bookkeeper.embedded import free_port

from .conftest import one_error

BIN = Path(sys.executable).parent / "bookkeeper"
GHOST = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "args",
    [
        ["billing", "explain", GHOST],
        ["billing", "run", "--account", GHOST, "--dry-run"],
        ["ledger", "balance", GHOST],
        ["ledger", "list", GHOST],
        ["ledger", "verify", GHOST],
        ["ledger", "credit", GHOST, "10", "--reason", "wire_transfer", "--description", "x"],
        ["ledger", "debit", GHOST, "-10", "--reason", "wire_transfer", "--description", "x"],
        ["ledger", "correct", GHOST, "202611-x", "--description", "x"],
        ["ledger", "rollover", "--account", GHOST],
        ["invoices", "generate", GHOST],
        ["invoices", "list", GHOST],
        ["invoices", "show", GHOST, "1"],
        ["invoices", "pdf", GHOST, "1", "-o", "x.pdf"],
        ["pay", "topup", GHOST, "10"],
        ["plans", "assign", GHOST, "basic"],
        ["plans", "unassign", GHOST, "basic"],
        ["plans", "list", GHOST],
        ["plans", "show", "basic", "--reseller", GHOST],
        ["plans", "validate", "--db", GHOST],
        ["hooks", "show", GHOST],
        ["hooks", "configure", GHOST, "stripe", __file__],
        ["accounts", "list", "--reseller", GHOST],
        ["agents", "accounts", GHOST],
        ["agents", "statement", GHOST],
        ["agents", "create-account", GHOST, "--name", "x"],
        ["agents", "refer", GHOST, GHOST],
        ["reports", "usage", GHOST],
        ["reports", "usage", "--reseller", GHOST],
        ["reports", "metrics", "--reseller", GHOST],
    ],
)
def test_an_unknown_account_is_no_such_account_in_every_command(shared_world, args):
    one_error(shared_world.cli(*args), f"{GHOST}: no such account in accounts")


def test_names_that_are_not_accounts_are_no_such_account(shared_world):
    one_error(shared_world.cli("plans", "list", "notanid"), "notanid: no such account in accounts")
    one_error(
        shared_world.cli("hooks", "configure", "../../x", "stripe", __file__), "../../x: no such account in accounts"
    )


def test_a_missing_plan_a_bad_range_a_far_date_and_an_unwritable_file(world, tmp_path):
    master_db = account_db(world.id("master"))
    one_error(world.cli("plans", "show", "nope"), f"{master_db}: no service plan 'nope' (see `bookkeeper plans list`)")
    one_error(
        world.cli("ledger", "list", world.id("acme"), "--from", "2026-03-01", "--to", "2026-02-01"),
        "ledger list: --from: 2026-03-01T00:00:00-05:00 is not before --to 2026-02-01T00:00:00-05:00",
    )
    one_error(
        world.cli("billing", "run", "--at", "9999-12-31T23:59:59Z"),
        "--at: 9999-12-31T23:59:59Z is outside 0001-01-01 .. 9000-01-01",
    )
    one_error(
        world.cli("ledger", "balance", world.id("acme"), "--at", "0001-01-01T00:00:00+01:00"),
        "--at: 0001-01-01T00:00:00+01:00 is outside 0001-01-01 .. 9000-01-01",
    )
    made = world.cli("invoices", "generate", world.id("acme"), "--period", "2026-11-15", "--json")
    assert made.exit_code == 0, made.stderr
    number = json.loads(made.output)["number"]
    one_error(
        world.cli("invoices", "pdf", world.id("acme"), number, "-o", str(tmp_path / "nope" / "x.pdf")),
        f"{tmp_path / 'nope' / 'x.pdf'}: No such file or directory",
    )


def test_a_usage_error_is_one_line(shared_world):
    one_error(
        shared_world.cli("ledger", "credit", shared_world.id("acme"), "10", "--reason", "gift", "--description", "x"),
        "Invalid value for '--reason': 'gift' is not one of 'admin_discretion', 'manual_addition', "
        "'wire_transfer'. (see 'bookkeeper ledger credit --help')",
    )


def test_hooks_serve_on_a_busy_port(shared_world):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_error(
            shared_world.cli("hooks", "serve", "--port", str(port)),
            f"hooks: cannot listen on 127.0.0.1:{port}: Address already in use",
        )


def test_an_unreachable_server_is_one_line_quickly():
    port = free_port()
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": f"http://admin:secret@127.0.0.1:{port}"}
    started = time.monotonic()
    run = subprocess.run([str(BIN), "ledger", "balance", GHOST], capture_output=True, text=True, timeout=60, env=env)
    took = time.monotonic() - started
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"error: cannot reach CouchDB at http://127.0.0.1:{port}: Connection refused\n"
    assert took < 5, took
