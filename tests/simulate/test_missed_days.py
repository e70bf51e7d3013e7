"""Daily fees and MRCs after a long outage, through `bookkeeper billing run --at` (the catch-up a restarted daemon
runs): the days of every period since the last evaluation are charged at the quantities known before the gap, a
period that started in the gap is charged in full, a change seen after the gap counts from the day it is seen;
`charge_missed_days: false` forgives the missed days."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper import provision
from bookkeeper.charging import daily_fee
from bookkeeper.clock import period_containing
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from simulator.run import Simulation
from simulator.scenario import parse_scenario

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "bookkeeper"


def month_start(months_back: int) -> datetime:
    """The first of the month `months_back` before this one, 00:00 UTC."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def gap_world(server, start: datetime, balance: int, billing_settings: dict):
    """One account (a daily device at 31.00, monthly users at 10.00) built as the simulator builds it, and
    `run(at)`: `bookkeeper billing run --at` for it, the catch-up a restarted daemon runs."""
    scenario = parse_scenario(
        {
            "start": start.isoformat(),
            "until": (start + timedelta(days=1)).isoformat(),
            "resellers": {
                "master": {
                    "settings": {"daily_categories": ["devices"], **billing_settings},
                    "plans": {
                        "p": {
                            "name": "P",
                            "plan": {"devices": {"sip_device": {"rate": 31}}, "users": {"user": {"rate": 10}}},
                        }
                    },
                }
            },
            "accounts": {
                "acme": {
                    "plans": ["p"],
                    "balance": balance,
                    "docs": [{"pvt_type": "device"}, {"pvt_type": "user", "priv_level": "user"}],
                }
            },
        },
        "t",
    )
    sim = Simulation(
        scenario,
        Couch(server.url, namespace=f"gap{uuid.uuid4().hex[:8]}-"),
        load_config(env={}, couch_url=server.url),
    )
    sim.build()
    acme = sim.ids["acme"]
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": sim.couch.namespace}

    def run(at: datetime) -> None:
        done = subprocess.run(
            [str(BIN), "billing", "run", "--at", at.isoformat(), "--account", acme, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stderr

    return sim, acme, run


@pytest.mark.parametrize("charge_missed_days", [True, False])
def test_an_outage_over_two_period_starts(server, charge_missed_days):
    p0, p1, p2 = (period_containing(month_start(m), 1, "UTC") for m in (4, 3, 2))
    sim, acme, run = gap_world(server, p0.start, 1000, {"charge_missed_days": charge_missed_days})
    try:
        for day in range(3):  # days 1-3 of p0 evaluated, then the daemon is down until day 10 of p2
            run(p0.start + timedelta(days=day))
        seen = p2.start + timedelta(days=9, hours=12)
        provision.add_docs(sim.couch, acme, [{"pvt_type": "device"}], seen)
        run(seen)
        entries = [e for e in sim.engine.ledger.entries(acme, p0.start, p2.end) if e.kind in ("daily", "mrc")]

        def fees(period, kind="daily"):
            return [e for e in entries if e.kind == kind and period.start <= e.at < period.end]

        # a constant quantity's daily fees add up to the monthly total: 1 device × 31.00
        day10 = daily_fee(Decimal(62), 10, p2.days, "USD")  # the new device counts from the day it is seen
        if charge_missed_days:
            assert len(fees(p0)) == p0.days and sum(e.amount for e in fees(p0)) == Decimal(31)
            assert len(fees(p1)) == p1.days and sum(e.amount for e in fees(p1)) == Decimal(31)
            assert [(e.amount, e.factor) for e in fees(p1, "mrc")] == [(Decimal(10), f"{p1.days}/{p1.days}")]
            assert sorted(e.quantity for e in fees(p2)) == [1] * 9 + [2]  # days 1-9 as before the gap
            assert (
                sum(e.amount for e in fees(p2))
                == sum(daily_fee(Decimal(31), k, p2.days, "USD") for k in range(1, 10)) + day10
            )
        else:  # forgiven: days 4.. of p0, all of p1 (its MRC too), days 1-9 of p2
            assert len(fees(p0)) == 3 and not fees(p1) and not fees(p1, "mrc")
            assert [(e.quantity, e.amount) for e in fees(p2)] == [(2, day10)]
        # an outage is not a late start: the period it ends in pays its full MRC
        assert [(e.amount, e.factor) for e in fees(p2, "mrc")] == [(Decimal(10), f"{p2.days}/{p2.days}")]
    finally:
        sim.remove()


def test_days_blocked_by_us_when_the_gap_began_stay_uncharged(server):
    p0, p2 = (period_containing(month_start(m), 1, "UTC") for m in (4, 2))
    # no funds for the monthly users: delinquent and blocked from day 1
    sim, acme, run = gap_world(server, p0.start, 0, {})
    try:
        for at in (p0.start, p2.start + timedelta(days=9, hours=12)):
            run(at)
        assert sim.couch.db("accounts").get(acme)["pvt_enabled"] is False
        daily = [e for e in sim.engine.ledger.entries(acme, p0.start, p2.end) if e.kind == "daily"]
        assert [(e.at, e.amount) for e in daily] == [(p0.start, Decimal(1))]  # day 1, before the block; no other
    finally:
        sim.remove()
