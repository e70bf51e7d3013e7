"""A billing state older than the ledger (issue: hostile input, point 4), through `bookkeeper billing run --at` as
an operator runs it after restoring the bookkeeper database from a backup: the state is rebuilt from the ledger,
nothing is charged twice (prorations, daily fees, MRCs), every day missed since is charged once at the last
quantity charged, and `ledger verify` says sound; within a period and across a period start. A state lost
altogether is rebuilt the same way."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from test_missed_days import BIN, gap_world, month_start

from bookkeeper import provision
from bookkeeper.billing import STATE_PREFIX
from bookkeeper.charging import daily_fee, prorated
from bookkeeper.clock import Period, period_containing

pytestmark = pytest.mark.slow

USER = {"pvt_type": "user", "priv_level": "user"}
DEVICE = {"pvt_type": "device"}


def at(period: Period, k: int) -> datetime:
    """Noon of day `k` of the period."""
    return period.start + timedelta(days=k - 1, hours=12)


def entries(sim, acme, period: Period, kind: str) -> list:
    return [e for e in sim.engine.ledger.entries(acme, period.start, period.end) if e.kind == kind]


def daily_fees(sim, acme, period: Period) -> list[tuple[int, int, Decimal]]:
    """(day, quantity, amount) of every daily fee of the period, by day."""
    return sorted((e.day, e.quantity, e.amount) for e in entries(sim, acme, period, "daily"))


def expected_days(period: Period, devices: list[int]) -> list[tuple[int, int, Decimal]]:
    """One fee a day: day k at devices[k - 1] devices × 31.00 a month."""
    return [(k, n, daily_fee(Decimal(31 * n), k, period.days, "USD")) for k, n in enumerate(devices, 1)]


class Backup:
    """The account's billing state as a backup of the bookkeeper database holds it, restored later."""

    def __init__(self, sim, acme):
        self.db = sim.couch.db(sim.config.bookkeeper_db)
        self.id = STATE_PREFIX + acme
        self.doc = self.db.get(self.id)

    def restore(self) -> None:
        self.db.put({**self.doc, "_rev": self.db.get(self.id)["_rev"]})

    def delete(self) -> None:
        self.db.delete_doc(self.id, self.db.get(self.id)["_rev"])


def verify(server, sim, acme) -> None:
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": sim.couch.namespace}
    done = subprocess.run(
        [str(BIN), "ledger", "verify", acme], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert (done.returncode, done.stdout) == (0, "sound\n"), done.stdout + done.stderr


def test_a_state_restored_from_before_two_prorations_and_a_rise_charges_nothing_twice(server):
    p = period_containing(month_start(2), 1, "UTC")
    sim, acme, run = gap_world(server, p.start, 1000, {})
    try:
        run(at(p, 1))  # MRC: 1 user × 10.00; day 1: 1 device
        run(at(p, 3))
        backup = Backup(sim, acme)  # the state of day 3
        provision.add_docs(sim.couch, acme, [dict(USER)], at(p, 5))
        run(at(p, 5))  # a proration 10 -> 20
        provision.add_docs(sim.couch, acme, [dict(DEVICE)], at(p, 7))
        run(at(p, 7))  # day 6 at 1 device, day 7 at 2
        provision.add_docs(sim.couch, acme, [dict(USER)], at(p, 8))
        run(at(p, 8))  # a proration 20 -> 30
        backup.restore()
        run(at(p, 11))  # days 9 and 10 missed: charged at the 2 devices of day 8
        run(at(p, 12))
        backup.delete()  # lost: rebuilt from the ledger alone
        run(at(p, 14))  # day 13 missed: charged at the 2 devices of day 12
        n = p.days
        assert [(e.amount, e.quantity) for e in entries(sim, acme, p, "mrc")] == [(Decimal(10), 1)]
        assert sorted(e.amount for e in entries(sim, acme, p, "prorate")) == sorted(
            [prorated(Decimal(10), 5, n, "USD"), prorated(Decimal(10), 8, n, "USD")]
        )
        assert daily_fees(sim, acme, p) == expected_days(p, [1] * 6 + [2] * 8)
        verify(server, sim, acme)
    finally:
        sim.remove()


def test_a_state_restored_from_the_previous_period_charges_nothing_twice(server):
    p1, p2 = (period_containing(month_start(m), 1, "UTC") for m in (3, 2))
    sim, acme, run = gap_world(server, p1.start, 1000, {})
    try:
        run(at(p1, 1))
        run(at(p1, 20))
        backup = Backup(sim, acme)  # the state of day 20 of p1
        for day in (25, 27):  # two rises of the monthly users: 10 -> 20 -> 30
            provision.add_docs(sim.couch, acme, [dict(USER)], at(p1, day))
            run(at(p1, day))
        run(at(p1, p1.days))
        run(at(p2, 1))  # p2's MRC: 3 users
        provision.add_docs(sim.couch, acme, [dict(DEVICE)], at(p2, 3))
        run(at(p2, 3))
        backup.restore()
        run(at(p2, 6))  # p1 caught up from its ledger; days 4 and 5 of p2 at the 2 devices of day 3
        assert [e.amount for e in entries(sim, acme, p1, "mrc")] == [Decimal(10)]
        assert sorted(e.amount for e in entries(sim, acme, p1, "prorate")) == sorted(
            [prorated(Decimal(10), 25, p1.days, "USD"), prorated(Decimal(10), 27, p1.days, "USD")]
        )
        assert daily_fees(sim, acme, p1) == expected_days(p1, [1] * p1.days)
        assert sum(e.amount for e in entries(sim, acme, p1, "daily")) == Decimal(31)
        assert [(e.amount, e.quantity) for e in entries(sim, acme, p2, "mrc")] == [(Decimal(30), 3)]
        assert entries(sim, acme, p2, "prorate") == []
        assert daily_fees(sim, acme, p2) == expected_days(p2, [1, 1, 2, 2, 2, 2])
        verify(server, sim, acme)
    finally:
        sim.remove()
