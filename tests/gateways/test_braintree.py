"""Braintree: the real SDK against a local stub of the gateway API; the SDK's own sample notifications;
manual and automatic top-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import braintree
import pytest
from braintree.webhook_notification import WebhookNotification

from bookkeeper.dbnames import account_db, modb, to_gregorian
from bookkeeper.gateways import maybe_auto_topup, topup
from bookkeeper.gateways.braintree_gateway import environment

Kind = WebhookNotification.Kind
KEYS = {"merchant_id": "acme", "public_key": "pub_key", "private_key": "priv_key"}


@pytest.fixture
def bt(world, braintree_api):
    world.configure("braintree", {**KEYS, "environment": braintree_api.server.url})
    braintree_api.vaulted.add(world.customer)
    return braintree_api


def sample(bt, kind: str, object_id: str, private_key: str = KEYS["private_key"]) -> dict:
    gateway = braintree.BraintreeGateway(
        braintree.Configuration(
            environment=environment(bt.server.url),
            merchant_id="acme",
            public_key=KEYS["public_key"],
            private_key=private_key,
        )
    )
    return gateway.webhook_testing.sample_notification(kind, object_id)


def post(client, world, notification: dict):
    return client.post(f"/hooks/braintree/{world.reseller}", data=notification)


def test_settled_transaction_credited_once(client, world, bt):
    bt.add("tx1", world.customer, "100.00")
    notification = sample(bt, Kind.TransactionSettled, "tx1")
    assert post(client, world, notification).json["booked"][0]["result"] == "credited"
    assert post(client, world, notification).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("100.00")
    [doc] = world.money_docs(world.customer)
    assert "<kind>transaction_settled</kind>" in doc["metadata"]["notification"]["payload"]


def test_subscription_charge_credited(client, world, bt):
    bt.add("sub1", world.customer, "49.99")
    resp = post(client, world, sample(bt, Kind.SubscriptionChargedSuccessfully, "sub1"))
    assert resp.json["booked"][0]["result"] == "credited"
    assert world.balance(world.customer) == Decimal("49.99")


def test_forged_notification_rejected(client, world, bt):
    bt.add("tx1", world.customer, "100.00")
    assert post(client, world, sample(bt, Kind.TransactionSettled, "tx1", private_key="wrong")).status_code == 403
    assert client.post(f"/hooks/braintree/{world.reseller}", data={"bt_payload": "eA=="}).status_code == 403
    assert world.money_docs(world.customer) == []


@pytest.mark.slow
def test_wrong_currency_and_foreign_customer(client, world, bt):
    bt.add("tx2", world.customer, "100.00", currency="EUR")
    assert post(client, world, sample(bt, Kind.TransactionSettled, "tx2")).status_code == 422
    bt.add("tx3", world.stranger, "100.00")
    assert post(client, world, sample(bt, Kind.TransactionSettled, "tx3")).status_code == 422
    bt.add("tx4", world.customer, "100.001")
    assert post(client, world, sample(bt, Kind.TransactionSettled, "tx4")).status_code == 422
    assert world.money_docs(world.customer) == [] and world.money_docs(world.stranger) == []


@pytest.mark.slow
def test_settlement_declined_and_dispute_lost_reverse_once(client, world, bt):
    bt.add("tx1", world.customer, "100.00")
    post(client, world, sample(bt, Kind.TransactionSettled, "tx1"))
    assert post(client, world, sample(bt, Kind.DisputeOpened, "tx1")).json["note"] == "noted: dispute opened"
    assert world.balance(world.customer) == Decimal("100.00")
    assert (
        post(client, world, sample(bt, Kind.TransactionSettlementDeclined, "tx1")).json["booked"][0]["result"]
        == "reversed"
    )
    assert post(client, world, sample(bt, Kind.DisputeLost, "tx1")).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("0.00")


def test_manual_topup_through_the_stub(world, bt):
    now = datetime.now(UTC)
    result = topup(world.couch, world.ledger, world.customer, Decimal("20.00"), now)
    assert result.status == "completed" and result.transaction_id == "bt1"
    method, path, body, _ = bt.server.requests[-1]
    assert (method, path) == ("POST", "/merchants/acme/transactions")
    assert f"<customer_id>{world.customer}</customer_id>".encode() in body
    assert world.balance(world.customer) == Decimal("20.00")
    [entry] = world.money_docs(world.customer)
    assert entry["metadata"]["transaction_id"] == "bt1"


@pytest.mark.slow
def test_topup_settled_later_is_not_credited_twice(client, world, bt):
    topup(world.couch, world.ledger, world.customer, Decimal("20.00"), datetime.now(UTC))
    bt.transactions["bt1"]["status"] = "settled"
    assert post(client, world, sample(bt, Kind.TransactionSettled, "bt1")).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("20.00")


def test_declined_topup_recorded_failed(world, bt):
    bt.vaulted.clear()
    result = topup(world.couch, world.ledger, world.customer, Decimal("20.00"), datetime.now(UTC))
    assert result.status == "failed" and "Do Not Honor" in result.reason
    assert world.money_docs(world.customer) == []
    sales = [d for d in _modb_docs(world) if d.get("pvt_type") == "transaction"]
    assert [s["status"] for s in sales] == ["failed"]


def _modb_docs(world) -> list[dict]:
    now = datetime.now(UTC)
    return [r["doc"] for r in world.couch.db(modb(world.customer, now.year, now.month)).all_docs(include_docs=True)]


@pytest.fixture
def auto(world, bt):
    accounts = world.couch.db("accounts")
    doc = accounts.get(world.customer)
    doc["topup"] = {"amount": 25, "threshold": 5}
    accounts.put(doc)
    return bt


def auto_topup(world, available: Decimal, when: datetime):
    """The daemon's call after charges, with the deployment's `auto_topup` on."""
    return maybe_auto_topup(world.couch, world.ledger, world.customer, available, when, enabled=True)


def test_auto_topup_fires_once_below_threshold(world, auto):
    now = datetime.now(UTC)
    assert auto_topup(world, Decimal("10"), now).status == "skipped"
    fired = auto_topup(world, Decimal("4.99"), now)
    assert fired.status == "completed" and fired.amount == Decimal("25")
    again = auto_topup(world, Decimal("-1"), now + timedelta(hours=1))
    assert again.status == "skipped" and "24 h" in again.reason
    assert len(auto.server.requests) == 1
    assert world.balance(world.customer) == Decimal("25.00")


@pytest.mark.slow
def test_kazoos_switch_does_not_turn_ours_on_and_each_sees_the_others_topup(world, auto):
    """`system_config/topup.enable` is KAZOO's own switch (its kt_low_balance tops up too): ours is the setting
    `auto_topup`. Both write KAZOO's executor (kz_services_topup, automatic), so neither tops up again within 24 h
    of the other (kz_services_topup:should_topup looks for exactly that)."""
    world.couch.db("system_config").ensure().put({"_id": "topup", "default": {"enable": True}})
    now = datetime.now(UTC)
    off = maybe_auto_topup(world.couch, world.ledger, world.customer, Decimal(0), now, enabled=False)
    assert off.status == "skipped" and "auto_topup" in off.reason and auto.server.requests == []
    # KAZOO tops up: its payments ledger, executor kz_services_topup / automatic; an hour later ours does not
    world.ledger.credit(
        world.customer,
        Decimal("25.00"),
        "USD",
        kind="payment",
        reason="topup",
        description="Automatic top-up",
        at=now,
        executor={"trigger": "automatic", "module": "kz_services_topup"},
    )
    seen = auto_topup(world, Decimal(0), now + timedelta(hours=1))
    assert seen.status == "skipped" and "24 h" in seen.reason and auto.server.requests == []
    # ours, a day later, is recorded so that KAZOO's guard sees it
    later = now + timedelta(hours=25)
    assert auto_topup(world, Decimal(0), later).status == "completed"
    db = world.couch.db(modb(world.customer, later.year, later.month))
    sale = [r["value"] for r in db.view("transactions", "list_by_timestamp")["rows"]]
    assert [v["executor"] for v in sale] == [{"trigger": "automatic", "module": "kz_services_topup"}]
    credits = db.view("ledgers", "list_by_source", startkey=["payments", to_gregorian(later)], endkey=["payments", {}])[
        "rows"
    ]
    assert [r["value"]["executor"] for r in credits] == [{"trigger": "automatic", "module": "kz_services_topup"}]


@pytest.mark.slow
def test_auto_topup_not_again_within_24h_across_midnight(world, auto):
    evening = (datetime.now(UTC) + timedelta(days=1)).replace(hour=23, minute=30)  # after the account's creation
    assert auto_topup(world, Decimal(0), evening).status == "completed"
    night = evening + timedelta(hours=1)
    assert auto_topup(world, Decimal(0), night).status == "skipped"
    later = evening + timedelta(hours=24, minutes=1)
    assert auto_topup(world, Decimal(0), later).status == "completed"
    assert len(auto.server.requests) == 2


def test_auto_topup_failure_recorded_not_retried(world, auto):
    auto.vaulted.clear()
    now = datetime.now(UTC)
    assert auto_topup(world, Decimal(0), now).status == "failed"
    assert auto_topup(world, Decimal(0), now).status == "skipped"
    assert len(auto.server.requests) == 1
    marker = world.couch.db(account_db(world.customer)).get(f"bookkeeper_auto_topup-{now:%Y%m%d}")
    assert marker["status"] == "failed"
