"""`bookkeeper run` as a real process against a real server: changes become charges in real time, nothing is lost
or charged twice across a SIGKILL, and new account databases are picked up without a restart."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from deployment import expected_prorate, wait_for

from bookkeeper import provision
from bookkeeper.clock import period_containing

pytestmark = pytest.mark.slow


def test_new_devices_appear_as_quantities_and_charges_in_real_time(deployment):
    acme = deployment.account(devices=1)
    deployment.start("w1")
    assert wait_for(lambda: deployment.quantity(acme) == 1)
    [_mrc] = wait_for(lambda: deployment.debits(acme, "mrc"))
    provision.add_docs(deployment.couch, acme, [{"pvt_type": "device"}, {"pvt_type": "device"}], datetime.now(UTC))
    assert wait_for(lambda: deployment.quantity(acme) == 3, timeout=30)
    [prorate] = wait_for(lambda: deployment.debits(acme, "prorate"), timeout=30)
    [activation] = wait_for(lambda: deployment.debits(acme, "activation"), timeout=30)
    assert activation.amount == Decimal("4")  # 2 new units above the period's mark x 2.00
    assert prorate.amount == expected_prorate(Decimal(60))  # (90 - 30) x days left / N
    assert prorate.quantity == 3 and prorate.factor.endswith(f"/{period_containing(prorate.at, 1, 'UTC').days}")


def test_a_sigkilled_daemon_loses_no_change_and_charges_nothing_twice(deployment):
    accounts = [deployment.account(devices=1) for _ in range(6)]
    first = deployment.start("w1")
    wait_for(lambda: all(deployment.debits(a, "mrc") for a in accounts), timeout=90)
    for account in accounts:
        provision.add_docs(deployment.couch, account, [{"pvt_type": "device"}] * 3, datetime.now(UTC))
    wait_for(lambda: any(deployment.quantity(a) == 4 for a in accounts), every=0.05, what="the batch under way")
    first.send_signal(signal.SIGKILL)  # in the middle of the batch (or just after it)
    first.wait(10)
    deployment.start("w1")
    for account in accounts:
        assert wait_for(lambda account=account: deployment.quantity(account) == 4, timeout=90)
        wait_for(lambda account=account: deployment.debits(account, "activation"), timeout=30)
    for account in accounts:
        debits = deployment.debits(account)
        keys = [e.key for e in debits]
        assert len(keys) == len(set(keys)), f"a charge was written twice for {account}"
        assert len(deployment.debits(account, "mrc")) == 1
        assert sum(e.quantity for e in deployment.debits(account, "activation")) == 3  # units 2..4, each once
        assert sum(e.amount for e in deployment.debits(account, "activation")) == Decimal(6)


def test_a_new_account_database_is_picked_up_while_running(deployment):
    deployment.start("w1")
    wait_for(lambda: deployment.metrics("w1").get("bookkeeper_ticks_total"), what="the start-up tick")  # running
    late = deployment.account(devices=2)
    # seen with 0 devices first (nothing to pay) or with both: either way the month costs 60 prorated from today
    wait_for(lambda: deployment.quantity(late) == 2, timeout=60)
    recurring = wait_for(lambda: [e for e in deployment.debits(late) if e.kind in ("mrc", "prorate")], timeout=60)
    assert sum(e.amount for e in recurring) == expected_prorate(Decimal(60))
    assert recurring[-1].quantity == 2
