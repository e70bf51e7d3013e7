"""VAT as the balance pays it (netto: a VAT entry beside each charge; brutto: none, the invoice extracts it), and an
invoice that shows every charge of its period: invoice, statement and balance reconcile to the cent. The charges
come from the real engine (`simulate`'s Simulation), the invoice from `bookkeeper invoices generate`."""

from __future__ import annotations

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


def run_march(server, disposition: str):
    """March 2026 for one EUR account with VAT 19%: one phone at 2.90 a month (MRC on day 1), a manual debit of
    3.21 on day 10; the simulation is kept for the CLI."""
    namespace = f"vat{uuid.uuid4().hex[:8]}-"
    scenario = parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-04-01T06:00:00Z",
            "resellers": {
                "master": {
                    "settings": {"currency": "EUR", "vat_rate": 19, "vat_disposition": disposition},
                    "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 2.9}}}}},
                }
            },
            "accounts": {"acme": {"plans": ["basic"], "balance": 100, "docs": [{"pvt_type": "device"}]}},
            "events": [{"at": "2026-03-10T12:00:00Z", "account": "acme", "debit": "3.21"}],
        },
        "test",
    )
    sim = Simulation(scenario, Couch(server.url, namespace=namespace), load_config(env={}, couch_url=server.url))
    sim.run(keep=True)
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": namespace}
    return sim, env


def cli(env, *args):
    run = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    "disposition,vat_entry,net,vat,total",
    [
        # netto: the MRC 2.90 + its VAT entry R(2.90 × 19%) = 0.55 (0.551); the invoice: 2.90 + 0.55 + 3.21 = 6.66
        ("netto", "0.55", "2.90", "0.55", "6.66"),
        # brutto: 2.90 includes R(2.90 × 19/119) = 0.46 (0.4630), net 2.44; no VAT entry; the invoice: 2.90 + 3.21
        ("brutto", None, "2.44", "0.46", "6.11"),
    ],
)
def test_the_invoice_charges_what_the_balance_paid(server, disposition, vat_entry, net, vat, total):
    sim, env = run_march(server, disposition)
    acme = sim.ids["acme"]
    try:
        march = [e for e in sim.engine.ledger.entries(acme, sim.scenario.start, sim.scenario.until) if e.at.month == 3]
        assert [str(e.amount) for e in march if e.kind == "vat"] == ([vat_entry] if vat_entry else [])
        cli(
            env,
            "ledger",
            "correct",
            acme,
            next(e.id for e in march if e.kind == "manual"),
            "--description",
            "too much",
            "--amount",
            "1.00",
            "--json",
        )  # a correction of 1.00 in April: not on March's invoice

        invoice = cli(env, "invoices", "generate", acme, "--period", "2026-03-15", "--json")
        doc = cli(env, "invoices", "show", acme, invoice["number"], "--json")
        st = doc["statement"]
        assert (st["vat"]["net"], st["vat"]["vat"], st["total"]) == (net, vat, total)
        assert [(a["kind"], a["amount"]) for a in st["adjustments"]] == [("manual", "3.21")]
        assert st["debits"] == total and st["credits"] == "100.00"  # every debit of March is on the invoice
        assert (
            Decimal(st["closing"])
            == Decimal(100) - Decimal(total)
            == sim.engine.ledger.balance(acme, sim.scenario.start.replace(day=31, hour=23))
        )
        assert invoice["total"] == total
        assert cli(env, "ledger", "verify", acme, "--json")["problems"] == []
    finally:
        sim.remove()
