"""PayPal IPN: verified by posting back to a local verifier; credited once; forged, foreign and wrong-currency
messages refused with nothing written; a refund reversed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest


@pytest.fixture
def ipn(world, paypal):
    world.configure(
        "paypal",
        {
            "receiver_id": "MERCHANT1",
            "receiver_email": "pay@reseller.example",
            "verify_url": paypal.server.url + "/cgi-bin/webscr",
        },
    )

    def make(genuine: bool = True, **fields) -> bytes:
        message = {
            "txn_id": "61E67681CH3238416",
            "payment_status": "Completed",
            "receiver_id": "MERCHANT1",
            "receiver_email": "pay@reseller.example",
            "mc_gross": "25.00",
            "mc_currency": "USD",
            "custom": world.customer,
            "charset": "UTF-8",
            **fields,
        }
        body = urlencode(message).encode()
        if genuine:
            paypal.genuine.add(body)
        return body

    return make


def post(client, world, body: bytes, reseller: str | None = None):
    return client.post(
        f"/hooks/paypal/{reseller or world.reseller}", data=body, content_type="application/x-www-form-urlencoded"
    )


def test_completed_payment_credited_once(client, world, ipn, paypal, credited):
    body = ipn()
    first = post(client, world, body)
    assert first.status_code == 200, first.json
    assert first.json["booked"][0]["result"] == "credited"
    assert paypal.server.requests[0][2] == b"cmd=_notify-validate&" + body
    again = post(client, world, body)
    assert again.status_code == 200 and again.json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("25.00")
    [doc] = world.money_docs(world.customer)
    assert doc["metadata"]["notification"]["txn_id"] == "61E67681CH3238416"
    assert doc["metadata"]["gateway"] == "paypal"
    assert credited == [world.customer]


def test_forged_message_rejected_nothing_written(client, world, ipn):
    before = world.all_docs(world.customer)
    resp = post(client, world, ipn(genuine=False, mc_gross="1000.00"))
    assert resp.status_code == 403
    assert world.all_docs(world.customer) == before and world.money_docs(world.customer) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"mc_currency": "EUR"}, "currency"),
        ({"receiver_id": "SOMEONE_ELSE"}, "receiver_id"),
        ({"mc_gross": "25.001"}, "decimal digits"),
        ({"mc_gross": "lots"}, "not a plain decimal amount"),
    ],
)
def test_wrong_fields_rejected(client, world, ipn, fields, reason):
    resp = post(client, world, ipn(**fields))
    assert resp.status_code == 422 and reason in resp.json["error"]
    assert world.money_docs(world.customer) == []


@pytest.mark.slow
def test_payer_of_another_reseller_rejected(client, world, ipn):
    resp = post(client, world, ipn(custom=world.stranger))
    assert resp.status_code == 422 and "not a customer of reseller" in resp.json["error"]
    assert world.money_docs(world.stranger) == []


def test_hook_of_an_unconfigured_reseller_is_answered_like_a_forged_one(client, world, ipn):
    resp = post(client, world, ipn(), reseller=world.other_reseller)
    assert (resp.status_code, resp.json) == (403, {"error": "not verified"})


def test_refund_reverses_the_payment_once(client, world, ipn):
    post(client, world, ipn())
    refund = ipn(txn_id="REFUND1", parent_txn_id="61E67681CH3238416", payment_status="Refunded", mc_gross="-25.00")
    assert post(client, world, refund).json["booked"][0]["result"] == "reversed"
    assert post(client, world, refund).json["booked"][0]["result"] == "replayed"
    assert world.balance(world.customer) == Decimal("0.00")


@pytest.mark.slow
def test_refund_of_an_unknown_payment_writes_nothing(client, world, ipn):
    refund = ipn(txn_id="REFUND2", parent_txn_id="NEVER", payment_status="Refunded", mc_gross="-5.00")
    resp = post(client, world, refund)
    assert resp.status_code == 200 and resp.json["booked"][0]["result"] == "nothing_to_reverse"
    assert world.money_docs(world.customer) == []


@pytest.mark.slow
def test_pending_payment_ignored(client, world, ipn):
    resp = post(client, world, ipn(payment_status="Pending"))
    assert resp.status_code == 200 and resp.json["note"].startswith("ignored")
    assert world.money_docs(world.customer) == []


def test_verifier_unreachable_is_503(client, world, ipn, paypal):
    body = ipn()
    paypal.server.close()
    assert post(client, world, body).status_code == 503
    assert world.money_docs(world.customer) == []
