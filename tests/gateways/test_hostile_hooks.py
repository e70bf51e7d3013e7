"""The webhook defects of the hostile-input issue (point 10): signs, exponents, JSON arrays, huge amounts, clock
skew, what a stranger can learn, and where PayPal messages may be posted back."""

from __future__ import annotations

import json
import time

import pytest
from stripe import WebhookSignature
from test_paypal import ipn, post  # noqa: F401  (fixture)
from test_yoomoney_stripe import WHSEC, event, session, stripe_hook, yoo, yoo_post  # noqa: F401  (fixtures)

from bookkeeper.dbnames import account_db
from bookkeeper.errors import InputError
from bookkeeper.gateways.config import parse_section


def test_paypal_completed_with_a_negative_gross_is_refused(client, world, ipn):  # noqa: F811
    resp = post(client, world, ipn(mc_gross="-25.00"))
    assert resp.status_code == 422 and "must be positive" in resp.json["error"]
    assert world.money_docs(world.customer) == []


def test_yoomoney_exponent_amounts_are_refused(client, world, yoo):  # noqa: F811
    for amount in ("1e3", "3E2", "Infinity", "0x10"):
        resp = yoo_post(client, world, yoo(amount=amount))
        assert resp.status_code == 422 and "not a plain decimal amount" in resp.json["error"], amount
    assert world.money_docs(world.stranger) == []


def payer_records(world) -> list[str]:
    return [
        r["id"]
        for r in world.couch.db(account_db(world.reseller)).all_docs()
        if r["id"].startswith("bookkeeper_payment-")
    ]


def signed(client, world, payload: str, timestamp: int | None = None):
    header = WebhookSignature.generate_signature_header(payload, WHSEC, timestamp)
    return client.post(
        f"/hooks/stripe/{world.reseller}",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


def test_stripe_arrays_and_huge_amounts_are_refused_and_leave_nothing(client, world, stripe_hook):  # noqa: F811
    assert (
        signed(client, world, json.dumps([event("checkout.session.completed", session(world))])).status_code == 403
    )  # a signed JSON array: not a Stripe event
    huge = stripe_hook(event("checkout.session.completed", session(world, amount_total=10**30)))
    assert huge.status_code == 422 and "out of range" in huge.json["error"]
    beyond = stripe_hook(event("checkout.session.completed", session(world, amount_total=2**53)))
    assert beyond.status_code == 422
    assert world.money_docs(world.customer) == [] and payer_records(world) == []


def test_stripe_signature_dated_ahead_is_refused(client, world, stripe_hook):  # noqa: F811
    ahead = stripe_hook(event("checkout.session.completed", session(world)), timestamp=int(time.time()) + 86400)
    assert ahead.status_code == 403
    assert world.money_docs(world.customer) == []
    assert stripe_hook(event("checkout.session.completed", session(world))).status_code == 200


def test_a_stranger_cannot_tell_which_resellers_have_a_gateway(client, world, stripe_hook):  # noqa: F811
    configured = client.post(f"/hooks/stripe/{world.reseller}", data=b"junk")
    unconfigured = client.post(f"/hooks/stripe/{world.other_reseller}", data=b"junk")
    nobody = client.post(f"/hooks/stripe/{'0' * 32}", data=b"junk")
    assert [(r.status_code, r.json) for r in (configured, unconfigured, nobody)] == [
        (403, {"error": "not verified"})
    ] * 3


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "https://attacker.example/cgi-bin/webscr",
        "http://ipnpb.paypal.com/cgi-bin/webscr",
        "http://10.0.0.1:80/verify",
        "https://ipnpb.paypal.com.attacker.example/cgi-bin/webscr",
    ],
)
def test_paypal_verify_url_only_paypal_or_a_local_stub(world, url):
    with pytest.raises(InputError, match="verify_url"):
        parse_section(world.reseller, "paypal", {"receiver_id": "M1", "verify_url": url})


def test_paypal_verify_url_accepts_paypal_and_a_local_stub(world):
    for url in (
        "https://ipnpb.paypal.com/cgi-bin/webscr",
        "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr",
        "http://127.0.0.1:8099/cgi-bin/webscr",
    ):
        assert parse_section(world.reseller, "paypal", {"receiver_id": "M1", "verify_url": url}).verify_url == url
