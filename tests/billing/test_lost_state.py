"""A lost billing-state document, or one older than the ledger (issue: hostile input, point 4): the ledger is the
truth. The state is rebuilt from the period's charges, so nothing is charged twice; the rebuild is logged and
counted on /metrics; `ledger verify` finds two charges for one item and period. (The same through `billing run`,
with daily fees and a period start: tests/simulate/test_stale_state.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from test_batches import DEVICE, PLAN, engine_for

from bookkeeper import provision
from bookkeeper.billing import STATE_PREFIX, BillingEngine
from bookkeeper.clock import SimulatedClock
from bookkeeper.dbnames import modb, to_gregorian
from bookkeeper.ledger import Ledger
from feeds.metrics import Metrics

START = datetime(2026, 3, 1, tzinfo=UTC)


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def setup(world):
    master = world.account("Master", reseller=True)
    provision.put_billing_settings(world.couch, master, {"currency": "USD", "billing_day": 1}, START)
    provision.put_plan(world.couch, master, "basic", PLAN, START)
    account = world.account("Customer", [master], plans={"basic": master})
    Ledger(world.couch).credit(
        account,
        Decimal(100),
        "USD",
        kind="credit",
        reason="manual_addition",
        description="funds",
        at=START,
        key=f"funds:{account}",
    )
    return master, account


def a_device_on_day_10(world):
    """An account evaluated on day 2 without a device (its MRC is nothing), then on day 10 with one: a proration
    and an activation."""
    master, account = setup(world)
    engine = engine_for(world, master)
    engine.evaluate(account, at(2))
    provision.add_docs(world.couch, account, [dict(DEVICE)], at(10))
    engine.evaluate(account, at(10))
    return master, account, engine


def charges(world, account) -> list[tuple[str, str]]:
    rows = world.couch.db(modb(account, 2026, 3)).all_docs(include_docs=True)
    return sorted(
        (r["doc"]["pvt_bookkeeper_info"]["kind"], r["doc"]["amount"])
        for r in rows
        if r["doc"].get("pvt_ledger_type") == "debit"
    )


def test_a_lost_billing_state_is_rebuilt_from_the_ledger_and_charges_nothing_twice(world):
    master, account, _ = a_device_on_day_10(world)
    before = charges(world, account)
    assert [kind for kind, _ in before] == ["activation", "prorate"]
    state_db = world.couch.db(world.config.bookkeeper_db)
    state_db.delete_doc(f"billing_state:{account}", state_db.get(f"billing_state:{account}")["_rev"])
    again = engine_for(world, master)  # another process: nothing remembered
    again.evaluate(account, at(12))
    assert charges(world, account) == before
    assert Ledger(world.couch).verify(account) == []


def test_verify_finds_two_charges_for_one_item_and_period(world):
    account = a_device_on_day_10(world)[1]
    march = world.couch.db(modb(account, 2026, 3))
    prorate = next(
        r["doc"]
        for r in march.all_docs(include_docs=True)
        if (r["doc"].get("pvt_bookkeeper_info") or {}).get("kind") == "prorate"
    )
    second = {k: v for k, v in prorate.items() if k != "_rev"}
    second.update(
        _id="202603-second-mrc",
        pvt_created=to_gregorian(at(12)),
        pvt_bookkeeper_info={**prorate["pvt_bookkeeper_info"], "kind": "mrc", "key": "a-second-mrc"},
    )
    march.put(second)  # as the engine wrote it before states were rebuilt
    problems = Ledger(world.couch).verify(account)
    assert problems == [
        f"202603: devices/sip_device charged twice for the period from 2026-03-01: "
        f"{prorate['_id']} (prorate), 202603-second-mrc (mrc)"
    ]


def test_a_state_older_than_the_ledger_by_one_second_is_rebuilt_logged_and_counted(world, caplog):
    master, account, engine = a_device_on_day_10(world)  # prorated 10.00 a month, activation 2.00
    config = world.config.model_copy(update={"master_account": master})
    state_db = world.couch.db(world.config.bookkeeper_db)
    backup = state_db.get(STATE_PREFIX + account)
    provision.add_docs(world.couch, account, [dict(DEVICE)], at(10))
    engine.evaluate(account, at(10))  # the same second: 2 devices
    before = charges(world, account)
    assert [kind for kind, _ in before] == ["activation", "activation", "prorate", "prorate"]
    checked = Metrics()
    BillingEngine(world.couch, config, SimulatedClock(START), metrics=checked).evaluate(account, at(10))
    assert checked.value("billing_states_rebuilt") == 0  # a state that saw every charge of its second
    state_db.put({**backup, "_rev": state_db.get(STATE_PREFIX + account)["_rev"]})  # restored from a backup
    metrics = Metrics()
    again = BillingEngine(world.couch, config, SimulatedClock(START), metrics=metrics)
    again.evaluate(account, at(12))
    assert charges(world, account) == before
    assert metrics.value("billing_states_rebuilt") == 1
    assert f"billing state of account {account} older than its ledger (evaluated 2026-03-10T12:00:00+00:00; " in (
        caplog.text
    )
    assert "2 charge(s) written since" in caplog.text
    assert Ledger(world.couch).verify(account) == []


def test_verify_finds_a_proration_and_an_activation_charged_twice(world):
    account = a_device_on_day_10(world)[1]
    march = world.couch.db(modb(account, 2026, 3))
    docs = {
        r["doc"]["pvt_bookkeeper_info"]["kind"]: r["doc"]
        for r in march.all_docs(include_docs=True)
        if (r["doc"].get("pvt_bookkeeper_info") or {}).get("kind") in ("prorate", "activation")
    }
    for kind, level in (("prorate", "1-20"), ("activation", "1")):  # as an older state charged them again
        doc = {k: v for k, v in docs[kind].items() if k != "_rev"}
        info = doc["pvt_bookkeeper_info"]
        doc.update(
            _id=f"202603-again-{kind}",
            pvt_created=to_gregorian(at(12)),
            pvt_bookkeeper_info={**info, "key": info["key"].rsplit("/", 1)[0] + "/" + level},
        )
        march.put(doc)
    assert Ledger(world.couch).verify(account) == [
        f"202603: devices/sip_device charged twice for the period from 2026-03-01: "
        f"{docs['activation']['_id']} (activation), 202603-again-activation (activation)",
        f"202603: devices/sip_device charged twice for the period from 2026-03-01: "
        f"{docs['prorate']['_id']} (prorate), 202603-again-prorate (prorate)",
    ]
