"""A lost billing-state document (issue: hostile input, point 4): the ledger is the truth. The state is rebuilt
from the period's charges, so nothing is charged twice; `ledger verify` finds two charges for one item and
period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from test_batches import DEVICE, PLAN, engine_for

from bookkeeper import provision
from bookkeeper.dbnames import modb, to_gregorian
from bookkeeper.ledger import Ledger

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


def charges(world, account) -> list[tuple[str, str]]:
    rows = world.couch.db(modb(account, 2026, 3)).all_docs(include_docs=True)
    return sorted(
        (r["doc"]["pvt_bookkeeper_info"]["kind"], r["doc"]["amount"])
        for r in rows
        if r["doc"].get("pvt_ledger_type") == "debit"
    )


def test_a_lost_billing_state_is_rebuilt_from_the_ledger_and_charges_nothing_twice(world):
    master, account = setup(world)
    engine = engine_for(world, master)
    engine.evaluate(account, at(2))  # no device yet: the period's MRC is nothing
    provision.add_docs(world.couch, account, [dict(DEVICE)], at(10))
    engine.evaluate(account, at(10))  # a rise: prorated, plus its activation
    before = charges(world, account)
    assert [kind for kind, _ in before] == ["activation", "prorate"]
    state_db = world.couch.db(world.config.bookkeeper_db)
    state_db.delete_doc(f"billing_state:{account}", state_db.get(f"billing_state:{account}")["_rev"])
    again = engine_for(world, master)  # another process: nothing remembered
    again.evaluate(account, at(12))
    assert charges(world, account) == before
    assert Ledger(world.couch).verify(account) == []


def test_verify_finds_two_charges_for_one_item_and_period(world):
    master, account = setup(world)
    engine = engine_for(world, master)
    engine.evaluate(account, at(2))
    provision.add_docs(world.couch, account, [dict(DEVICE)], at(10))
    engine.evaluate(account, at(10))
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
