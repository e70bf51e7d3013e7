"""`bookkeeper billing run` and `billing explain` as an operator runs them."""

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from simulator.run import Simulation
from simulator.scenario import parse_scenario

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "bookkeeper"


def test_dry_run_writes_nothing_then_run_charges_and_explain_shows_why(server):
    namespace = f"cli{uuid.uuid4().hex[:8]}-"
    scenario = parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-02T00:00:00Z",
            "resellers": {
                "master": {
                    "settings": {},
                    "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}},
                }
            },
            "accounts": {
                "acme": {"plans": ["basic"], "balance": 100, "docs": [{"pvt_type": "device"}, {"pvt_type": "device"}]}
            },
        },
        "test",
    )
    sim = Simulation(scenario, Couch(server.url, namespace=namespace), load_config(env={}, couch_url=server.url))
    sim.build()
    acme = sim.ids["acme"]
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": namespace}

    def cli(*args):
        run = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    dry = cli("billing", "run", "--at", "2026-03-01T00:00:00Z", "--account", acme, "--dry-run", "--json")
    [charge] = dry["accounts"][0]["charges"]
    assert (charge["kind"], charge["quantity"], charge["rate"], charge["amount"], charge["factor"]) == (
        "mrc",
        2,
        10,
        20,
        "31/31",
    )
    assert sim.engine.ledger.balance(acme) == Decimal("100.00")

    done = cli("billing", "run", "--at", "2026-03-01T00:00:00Z", "--json")
    assert sum(r["written"] for r in done["accounts"]) == 1
    again = cli("billing", "run", "--at", "2026-03-01T00:00:00Z", "--json")
    assert sum(r["written"] for r in again["accounts"]) == 0  # nothing charged twice

    explained = cli("billing", "explain", acme, "--period", "2026-03-15", "--json")
    kinds = [(e["kind"], e["amount"], e.get("factor")) for e in explained["entries"]]
    assert ("mrc", 20, "31/31") in kinds and explained["period"]["days"] == 31

    bad = subprocess.run(
        [str(BIN), "billing", "explain", "ffffffffffffffffffffffffffffffff"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert bad.returncode == 2 and "no such account" in bad.stderr and "Traceback" not in bad.stderr
    sim.remove()


def test_a_run_over_all_accounts_bills_the_good_ones_and_names_the_one_that_failed(server):
    namespace = f"cli{uuid.uuid4().hex[:8]}-"
    scenario = parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-02T00:00:00Z",
            "resellers": {
                "master": {
                    "settings": {},
                    "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}},
                }
            },
            "accounts": {
                name: {"plans": ["basic"], "balance": 100, "docs": [{"pvt_type": "device"}]}
                for name in ("acme", "broken")
            },
        },
        "test",
    )
    sim = Simulation(scenario, Couch(server.url, namespace=namespace), load_config(env={}, couch_url=server.url))
    sim.build()
    broken = sim.ids["broken"]
    services = sim.couch.db("services")
    services.put({**services.get(broken), "plans": {"gone": {"vendor_id": sim.ids["master"]}}})
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": namespace}
    run = subprocess.run(
        [str(BIN), "billing", "run", "--at", "2026-03-01T00:00:00Z", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: 1 account(s) not evaluated") and broken in line and "plans.gone" in line
    billed = {r["account"]: r["written"] for r in json.loads(run.stdout)["accounts"]}
    assert billed.get(sim.ids["acme"]) == 1 and broken not in billed
    assert sim.engine.ledger.balance(sim.ids["acme"]) == Decimal("90.00")
    sim.remove()
