"""Every command the README lists, run once on the demo as a user would (its own server: `run --once` tails every
database on it), and then `ledger verify` is sound for every demo account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "bookkeeper"
TESTS = Path(__file__).resolve().parent.parent


def test_ledger_verify_passes_on_the_demo_after_every_readme_command(own_server, tmp_path):
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": own_server.url, "BOOKKEEPER_VAR_DIR": str(tmp_path)}
    failed = []

    def cli(*args, ok=True):
        """Run a command; with `ok`, it must succeed. A refusal (exit 2) must be one line, no traceback."""
        run = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=180, env=env)
        if run.returncode not in ((0,) if ok else (0, 1, 2)) or "Traceback" in run.stderr:
            failed.append(f"{' '.join(args)}: exit {run.returncode}: {run.stderr.strip()[-300:]}")
        return run

    ids = json.loads(cli("demo", "load", "--json").stdout)["accounts"]
    acme, master = ids["acme"], ids["master"]
    cli("--help")
    cli("run", "--once", "--json")
    cli("billing", "run", "--json")
    cli("billing", "run", "--account", acme, "--dry-run", "--json")
    cli("billing", "explain", acme)
    golden = TESTS / "plans" / "golden"
    cli(
        "plans",
        "quote",
        "--plan",
        str(golden / "quote-readme.plan.json"),
        "--quantities",
        str(golden / "quote-readme.quantities.json"),
        "--cascade",
        str(golden / "quote-readme.cascade.json"),
        "--json",
    )
    cli("plans", "list")
    cli("plans", "show", "voip_basic")
    cli("plans", "validate", str(golden / "quote-readme.plan.json"))
    cli("plans", "assign", acme, "reseller_wholesale")
    cli("plans", "unassign", acme, "reseller_wholesale")
    cli("ledger", "balance", acme)
    cli("ledger", "credit", acme, "10", "--reason", "wire_transfer", "--description", "wire 1", "--key", "w1")
    cli("ledger", "debit", acme, "3.21", "--reason", "admin_discretion", "--description", "a fee")
    entries = json.loads(cli("ledger", "list", acme, "--json").stdout)
    manual = next(e for e in entries if e["kind"] == "manual" and e["type"] == "debit")
    cli("ledger", "correct", acme, manual["id"], "--description", "fee waived")
    cli("ledger", "rollover")
    cli("accounts", "list")
    cli("invoices", "generate", "--all")
    cli("invoices", "generate", acme, ok=False)  # no period has closed since the demo was loaded: refused
    cli("invoices", "list", acme)
    cli("pay", "topup", acme, "10", ok=False)  # no Braintree configured for the demo: refused
    cli("hooks", "show", master)
    cli("simulate", str(TESTS / "simulate" / "golden" / "simulate-basic.scenario.json"), "--json")
    cli("views", "install", "--all-accounts")
    cli("billing", "run", "--json")
    assert not failed, "\n".join(failed)

    for label, account in ids.items():
        verify = cli("ledger", "verify", account, "--json", ok=False)
        assert verify.returncode == 0 and json.loads(verify.stdout)["problems"] == [], (
            label,
            verify.stdout,
            verify.stderr,
        )
