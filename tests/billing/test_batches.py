"""The engine's batches on a real server: one account's error stays its own, concurrent single evaluations are
coalesced and still charge once, and a recount reads the `limits` doc only when it changed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bookkeeper import provision
from bookkeeper.billing import STATE_PREFIX, BillingEngine, EvaluationFailed
from bookkeeper.clock import SimulatedClock
from bookkeeper.couch import Couch
from bookkeeper.dbnames import modb
from bookkeeper.errors import InputError
from bookkeeper.ledger import Ledger
from bookkeeper.ledger.documents import Entry

START = datetime(2026, 3, 1, tzinfo=UTC)  # the World's accounts are created then
PLAN = {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10, "activation_charge": 2}}}}
DEVICE = {"pvt_type": "device", "device_type": "sip_device"}


class CountingCouch(Couch):
    """The real client, counting the requests it makes by (method, last path segment)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.counts: dict[tuple[str, str], int] = {}
        self._guard = threading.Lock()

    def request(self, method, path, **kw):
        with self._guard:
            key = (method, path.split("?")[0].rsplit("/", 1)[-1])
            self.counts[key] = self.counts.get(key, 0) + 1
        return super().request(method, path, **kw)


@pytest.fixture
def master(world):
    master = world.account("Master", reseller=True)
    provision.put_billing_settings(world.couch, master, {"currency": "USD", "billing_day": 1}, START)
    provision.put_plan(world.couch, master, "basic", PLAN, START)
    return master


def customer(world, master, balance: str, *, plans=None, limits=None) -> str:
    account = world.account("Customer", [master], plans=plans or {"basic": master})
    provision.add_docs(world.couch, account, [dict(DEVICE)], START)
    if limits is not None:
        provision.put_limits(world.couch, account, limits, START)
    provision.fund(Ledger(world.couch), account, balance, START)
    return account


def engine_for(world, master, couch=None) -> BillingEngine:
    config = world.config.model_copy(update={"master_account": master})
    return BillingEngine(couch or world.couch, config, SimulatedClock(START))


def debits(couch, account) -> list[int]:
    rows = couch.db(modb(account, 2026, 3)).all_docs(include_docs=True)
    return sorted(r["doc"]["amount"] for r in rows if r["doc"].get("pvt_ledger_type") == "debit")


def test_one_accounts_error_fails_only_that_account_of_the_batch(world, master):
    good = [customer(world, master, "50") for _ in range(2)]
    bad = customer(world, master, "50", plans={"no-such-plan": master})
    engine = engine_for(world, master)
    with pytest.raises(EvaluationFailed) as failed:
        engine.evaluate_many([good[0], bad, good[1]], START)
    assert list(failed.value.failures) == [bad]
    assert isinstance(failed.value.failures[bad], InputError) and "no-such-plan" in str(failed.value.failures[bad])
    assert [e.account_id for e in failed.value.evaluations] == good
    for account in good:  # the MRC, 10.00 in KAZOO units
        assert debits(world.couch, account) == [100000]
    assert world.couch.db(engine.config.bookkeeper_db).get_or_none(STATE_PREFIX + bad) is None


@pytest.mark.slow
def test_concurrent_single_evaluations_are_batched_and_charge_once(world, master):
    accounts = [customer(world, master, "50") for _ in range(8)]
    couch = CountingCouch(world.url, namespace=world.couch.namespace, retries=3)
    engine = engine_for(world, master, couch)
    barrier = threading.Barrier(16)

    def evaluate(account):
        barrier.wait()
        return engine.evaluate(account, START)

    threads = [threading.Thread(target=evaluate, args=(a,)) for a in accounts * 2]  # each account asked twice
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for account in accounts:
        assert debits(world.couch, account) == [100000]
    state_reads = couch.counts[("POST", "_all_docs")]  # billing states, accounts, services: three per batch
    assert state_reads < 3 * 8, couch.counts


def test_a_recount_reads_the_limits_doc_only_when_it_changed(world, master):
    account = customer(world, master, "0", limits={"allow_postpay": True, "max_postpay_amount": 100})
    couch = CountingCouch(world.url, namespace=world.couch.namespace, retries=3)
    engine = engine_for(world, master, couch)
    engine.evaluate(account, START)  # no funds, but postpay covers the MRC
    assert debits(world.couch, account) == [100000]
    state = world.couch.db(engine.config.bookkeeper_db).get(STATE_PREFIX + account)
    assert state["postpay"] == {"allowed": True, "max": "100"}

    db = world.couch.db(f"account/{account[:2]}/{account[2:4]}/{account[4:]}")
    device = provision.add_docs(world.couch, account, [dict(DEVICE)], START + timedelta(days=1))[0]
    limits_reads = couch.counts.get(("GET", "limits"), 0)
    engine.clock.set(START + timedelta(days=1))
    engine.handle_changes(db.name, [{"id": device, "doc": db.get(device)}])
    assert couch.counts.get(("GET", "limits"), 0) == limits_reads  # a device changed: the terms as last read

    limits = db.get("limits")
    db.put({**limits, "allow_postpay": False})
    engine.clock.set(START + timedelta(days=2))
    engine.handle_changes(db.name, [{"id": "limits", "doc": db.get("limits")}])
    assert couch.counts[("GET", "limits")] == limits_reads + 1
    state = world.couch.db(engine.config.bookkeeper_db).get(STATE_PREFIX + account)
    assert state["postpay"] == {"allowed": False, "max": "100"}


def test_a_recount_reads_object_plans_only_when_a_change_names_some_or_the_last_read_found_some(world, master):
    provision.put_plan(
        world.couch, master, "soft", {"name": "Soft", "plan": {"devices": {"softphone": {"rate": 6}}}}, START
    )
    account = customer(world, master, "100")
    couch = CountingCouch(world.url, namespace=world.couch.namespace, retries=3)
    engine = engine_for(world, master, couch)
    engine.evaluate(account, START)
    db = world.couch.db(f"account/{account[:2]}/{account[2:4]}/{account[4:]}")

    def change(day: int, doc: dict) -> list[Entry]:
        """Add `doc` on March `day`, hand the change to the engine; the softphone charges so far."""
        at = START + timedelta(days=day - 1)
        doc_id = provision.add_docs(world.couch, account, [doc], at)[0]
        engine.clock.set(at)
        engine.handle_changes(db.name, [{"id": doc_id, "doc": db.get(doc_id)}])
        entries = Ledger(world.couch).entries(account, START, at + timedelta(days=1))
        return [e for e in entries if e.item == "softphone"]

    def object_plan_reads() -> int:
        return couch.counts.get(("GET", "object_plans"), 0)

    def state() -> dict:
        return world.couch.db(engine.config.bookkeeper_db).get(STATE_PREFIX + account)

    reads = object_plan_reads()
    assert change(2, dict(DEVICE)) == [] and object_plan_reads() == reads  # none found last time, none named now
    own = {"plans": {"soft": {"overrides": {"plan": {"devices": {"softphone": {"rate": 4}}}}}}}
    [charge] = change(3, {"_id": "soft1", "pvt_type": "device", "device_type": "softphone", "service": own})
    assert object_plan_reads() == reads + 1
    assert (charge.kind, charge.rate, charge.quantity, charge.amount) == (
        "prorate",
        Decimal("4"),
        1,
        Decimal("3.74"),
    )  # 4.00 × 29/31 days
    assert [p for p, _ in state()["object_plans"]] == ["soft"]

    assert len(change(4, dict(DEVICE))) == 1 and object_plan_reads() == reads + 2  # some found last time: read
    soft = db.get("soft1")
    db.put({k: v for k, v in soft.items() if k != "service"})  # the plan dropped by a change that names none
    engine.clock.set(START + timedelta(days=4))
    engine.handle_changes(db.name, [{"id": "soft1", "doc": db.get("soft1")}])
    assert object_plan_reads() == reads + 3 and state()["object_plans"] == []


def test_the_tick_of_a_months_last_days_creates_next_months_modbs(world, master):
    account = customer(world, master, "50")
    engine = engine_for(world, master)
    engine.evaluate(account, START)
    engine.clock.set(datetime(2026, 3, 20, tzinfo=UTC))
    engine.tick(engine.clock.now())
    assert not world.couch.db(modb(account, 2026, 4)).exists()
    engine.clock.set(datetime(2026, 3, 30, 12, tzinfo=UTC))
    engine.tick(engine.clock.now())
    april = world.couch.db(modb(account, 2026, 4))
    assert april.exists() and april.get_or_none("_design/bookkeeper_ledger") is not None
    assert not [r for r in april.all_docs() if not r["id"].startswith("_design/")]  # no carry-forward yet
    assert engine.ledger.verify(account) == []
    engine.clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    engine.tick(engine.clock.now())  # the period start: the carry-forward, then April's MRC
    assert engine.ledger.balance(account, engine.clock.now()) == Decimal("30.00")
    assert engine.ledger.verify(account) == []
