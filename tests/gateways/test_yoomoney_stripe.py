"""YooMoney (SHA-1 over the documented fields) and Stripe (Stripe-Signature through the stripe SDK)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from stripe import WebhookSignature

from bookkeeper import provision
from bookkeeper.gateways.yoomoney import signature

SECRET = "yoo-secret"
WHSEC = "whsec_test_secret"


# --- YooMoney
@pytest.fixture
def yoo(world):
    world.configure("yoomoney", {"notification_secret": SECRET})
    provision.put_billing_settings(world.couch, world.other_reseller, {"currency": "RUB"}, datetime.now(UTC))
    world.configure("yoomoney", {"notification_secret": SECRET, "currency": "RUB"}, reseller=world.other_reseller)

    def make(secret: str = SECRET, **fields) -> bytes:
        message = {
            "notification_type": "p2p-incoming",
            "operation_id": "1234567",
            "amount": "300.00",
            "withdraw_amount": "301.50",
            "currency": "643",
            "datetime": "2026-03-01T12:00:00Z",
            "sender": "41001000040",
            "codepro": "false",
            "label": world.stranger,
            **fields,
        }
        message.setdefault("sha1_hash", signature(message, secret))
        return urlencode(message).encode()

    return make


def yoo_post(client, world, body):
    return client.post(
        f"/hooks/yoomoney/{world.other_reseller}", data=body, content_type="application/x-www-form-urlencoded"
    )


def test_yoomoney_credited_once(client, world, yoo, caplog):
    body = yoo()
    with caplog.at_level(logging.INFO, logger="bookkeeper.gateways"):
        assert yoo_post(client, world, body).json["booked"][0]["result"] == "credited"
        assert yoo_post(client, world, body).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.stranger) == Decimal("300.00")
    credited = [r.getMessage() for r in caplog.records if r.getMessage().startswith("payment ")]
    assert len(credited) == 1 and f"credited to account {world.stranger}" in credited[0]  # logged once, not replays


def test_yoomoney_forged_rejected(client, world, yoo):
    assert yoo_post(client, world, yoo(secret="guess")).status_code == 403
    tampered = yoo().replace(b"amount=300.00", b"amount=900.00")
    assert yoo_post(client, world, tampered).status_code == 403
    assert world.money_docs(world.stranger) == []


def test_yoomoney_wrong_currency_and_label(client, world, yoo):
    resp = yoo_post(client, world, yoo(currency="978"))
    assert resp.status_code == 422 and "currency" in resp.json["error"]
    resp = yoo_post(client, world, yoo(label=world.customer))
    assert resp.status_code == 422 and "not a customer" in resp.json["error"]
    resp = client.post(
        f"/hooks/yoomoney/{world.reseller}",
        data=yoo(label=world.customer),
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 422 and "RUB is not this reseller's currency USD" in resp.json["error"]
    assert world.money_docs(world.stranger) == [] and world.money_docs(world.customer) == []


def test_gateway_currency_other_than_billing_currency_is_503(client, world, yoo):
    world.configure("yoomoney", {"notification_secret": SECRET, "currency": "EUR"}, reseller=world.other_reseller)
    assert yoo_post(client, world, yoo()).status_code == 503
    assert world.money_docs(world.stranger) == []


def test_yoomoney_test_and_held_transfers_ignored(client, world, yoo):
    for flag in ("test_notification", "unaccepted", "codepro"):
        resp = yoo_post(client, world, yoo(**{flag: "true"}))
        assert resp.status_code == 200 and resp.json["note"].startswith("ignored"), flag
    assert world.money_docs(world.stranger) == []


# --- Stripe
@pytest.fixture
def stripe_hook(world, client):
    world.configure("stripe", {"webhook_secret": WHSEC, "currency": "USD"})

    def send(event: dict, secret: str = WHSEC, timestamp: int | None = None):
        payload = json.dumps(event)
        header = WebhookSignature.generate_signature_header(payload, secret, timestamp)
        return client.post(
            f"/hooks/stripe/{world.reseller}",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": header},
        )

    return send


def event(kind: str, obj: dict) -> dict:
    return {"id": "evt_1", "object": "event", "type": kind, "data": {"object": obj}}


def session(world, **kw) -> dict:
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "amount_total": 4250,
        "currency": "usd",
        "client_reference_id": world.customer,
        **kw,
    }


def test_stripe_checkout_and_intent_credit_once(stripe_hook, world):
    assert stripe_hook(event("checkout.session.completed", session(world))).json["booked"][0]["result"] == "credited"
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount_received": 4250,
        "currency": "usd",
        "metadata": {"account_id": world.customer},
    }
    assert stripe_hook(event("payment_intent.succeeded", intent)).json["booked"][0]["result"] == "replayed"
    assert stripe_hook(event("checkout.session.completed", session(world))).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("42.50")


def test_stripe_forged_or_missing_signature(stripe_hook, world, client):
    assert stripe_hook(event("checkout.session.completed", session(world)), secret="whsec_other").status_code == 403
    old = int(time.time()) - 3600
    assert stripe_hook(event("checkout.session.completed", session(world)), timestamp=old).status_code == 403
    resp = client.post(
        f"/hooks/stripe/{world.reseller}", data=json.dumps(event("x", {})), content_type="application/json"
    )
    assert resp.status_code == 403  # no signature: answered like a forged one
    assert world.money_docs(world.customer) == []


def test_stripe_wrong_currency_and_reseller(stripe_hook, world):
    resp = stripe_hook(event("checkout.session.completed", session(world, currency="eur")))
    assert resp.status_code == 422 and "currency" in resp.json["error"]
    resp = stripe_hook(event("checkout.session.completed", session(world, client_reference_id=world.stranger)))
    assert resp.status_code == 422
    resp = stripe_hook(event("checkout.session.completed", session(world, amount_total="42.50")))
    assert resp.status_code == 422 and "amount" in resp.json["error"]
    assert world.money_docs(world.customer) == [] and world.money_docs(world.stranger) == []


def test_stripe_refunds_reversed_once_each(stripe_hook, world):
    stripe_hook(event("checkout.session.completed", session(world)))
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": "pi_1",
        "currency": "usd",
        "metadata": {},
        "amount_refunded": 1000,
        "refunded": False,
        "refunds": {"data": [{"id": "re_1", "amount": 1000, "status": "succeeded"}]},
    }
    assert stripe_hook(event("charge.refunded", charge)).json["booked"][0]["result"] == "reversed"
    charge["refunds"]["data"].append({"id": "re_2", "amount": 250, "status": "succeeded"})
    results = [b["result"] for b in stripe_hook(event("charge.refunded", charge)).json["booked"]]
    assert results == ["replayed", "reversed"]
    assert world.balance(world.customer) == Decimal("30.00")
