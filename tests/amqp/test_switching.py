"""Switching a reseller's accounts to another bookkeeper (KAZOO's Braintree app) and back while `bookkeeper run`
keeps running: away, a change is not charged and requests are left to the other bookkeeper; back, billing resumes
from that day (docs/charging.md "Another bookkeeper", docs/kazoo.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from amqp_world import OURS, PLAN, Daemon, standing_req, update_req
from waiting import wait_until

from bookkeeper import provision
from bookkeeper.amqp.kazoo import KazooClient
from bookkeeper.charging import prorated
from bookkeeper.clock import day_index, period_containing


def rise_from_today(rise: Decimal) -> Decimal:
    now = datetime.now(UTC)
    period = period_containing(now, 1, "UTC")
    return prorated(rise, day_index(now, period), period.days, "USD")


@pytest.mark.slow
def test_a_reseller_switched_away_is_not_billed_nor_answered_and_is_billed_again_once_back(
    deployment, broker, tmp_path
):
    world = deployment
    account = world.customer(balance=200, devices=1)  # this month's 30.00, prorated, paid to us
    charged = world.debits(account)
    assert [e.kind for e in charged] == ["mrc"]
    daemon = Daemon(world, broker, tmp_path)
    kazoo = None
    try:
        daemon.wait_connected()
        kazoo = KazooClient(broker.url)

        world.switch_bookkeeper("braintree")
        world.add_devices(account, 2)  # KAZOO's Braintree app bills these now
        wait_until(
            lambda: world.counted(account) == 3 and world.state(account).get("away"), 30, what="the change, away"
        )
        time.sleep(2)  # on purpose: a later evaluation that wrongly charged would have done so by now
        assert world.debits(account) == charged

        theirs = kazoo.message("standing", standing_req(world, account, 10_000, bookkeeper_type="braintree"))
        kazoo.publish("standing", theirs)
        assert kazoo.wait(theirs["Msg-ID"], 2) is None  # the Braintree app's to answer
        stale = kazoo.call("standing", standing_req(world, account, 10_000), 5)  # KAZOO's cache still says us
        assert stale["Status"] == "error" and stale["Reason"] == "wrong_bookkeeper"
        assert stale["Message"].startswith(f"Account {account} is billed by another bookkeeper")
        update = kazoo.call("update", update_req(world, account, devices=3, before=1), 20)
        assert update["Status"] == "error" and update["Reason"] == "wrong_bookkeeper"
        assert world.debits(account) == charged

        world.switch_bookkeeper(OURS)  # back: the daemon sees the plan and bills from today
        wait_until(lambda: len(world.debits(account)) == 2, 30, what="the account billed again")
        assert not world.state(account).get("away")
        debits = sorted(world.debits(account), key=lambda e: e.kind)
        assert [(e.kind, e.quantity) for e in debits] == [("mrc", 1), ("prorate", 3)]  # no activation: theirs
        assert debits[1].amount == rise_from_today(Decimal(60))  # 30 -> 90 a month, from today
        good = kazoo.call("standing", standing_req(world, account, 10_000), 5)
        assert good["Status"] == "good_standing"
        again = kazoo.call("update", update_req(world, account, devices=3, before=3), 20)
        assert again["Status"] == "success" and len(world.debits(account)) == 2
        world.add_devices(account, 1)  # ours again: charged as any change
        wait_until(lambda: len(world.debits(account)) == 4, 30, what="the fourth device charged")
        assert sorted(e.kind for e in world.debits(account)) == ["activation", "mrc", "prorate", "prorate"]
    finally:
        if kazoo is not None:
            kazoo.close()
        daemon.stop()


def test_an_account_the_master_bills_follows_master_account_bookkeeper(world):
    """No `bookkeeper` on the plan nor on the services doc: KAZOO takes `system_config/services` →
    `master_account_bookkeeper` for an account the master bills (kz_services:maybe_master_bookkeeper_type)."""
    now = datetime.now(UTC)
    provision.put_plan(world.couch, world.master, "mp", PLAN, now)
    config = world.couch.db("system_config").ensure()
    doc = {"_id": "services", "default": {"master_account_bookkeeper": "braintree"}}
    config.put(doc)
    account = world.new_account("Direct", [world.master], now, plans={"mp": world.master})
    world.fund(account, 100)
    world.add_devices(account, 1)
    assert world.engine.evaluate(account).decision.state.away and world.debits(account) == []
    doc["default"]["master_account_bookkeeper"] = OURS
    config.put(doc)
    evaluation = world.engine.evaluate(account)
    assert not evaluation.decision.state.away
    assert [(e.kind, e.amount) for e in world.debits(account)] == [("mrc", rise_from_today(Decimal(30)))]
    del doc["default"]["master_account_bookkeeper"]  # unset: `default`, which we bill too
    config.put(doc)
    assert not world.engine.evaluate(account).decision.state.away
