"""The hooks web app as a whole: the real hooks server, limits, CouchDB down, KAZOO 4.2 http_sync, secrets
never shown, and a fuzz test of every hook route."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookkeeper.couch import Couch
from bookkeeper.gateways import make_app, serve
from bookkeeper.gateways.config import redacted
from bookkeeper.gateways.web import GATEWAYS, MAX_BODY

SECRETS = {
    "braintree": {
        "merchant_id": "acme",
        "public_key": "pub",
        "private_key": "bt-private-secret",
        "environment": "http://127.0.0.1:9",
    },
    "paypal": {"receiver_id": "M1", "verify_url": "http://127.0.0.1:9/verify"},
    "yoomoney": {"notification_secret": "yoo-private-secret"},
    "stripe": {"webhook_secret": "whsec_private_secret"},
}


def configure_all(world) -> None:
    for name, section in SECRETS.items():
        world.configure(name, section)


def test_real_server_answers_and_limits_size(world):
    configure_all(world)
    server = serve(make_app(world.couch, world.config), "127.0.0.1", 0)
    try:
        assert requests.get(server.url + "/health", timeout=5).json() == {"ok": True}
        big = requests.post(f"{server.url}/hooks/stripe/{world.reseller}", data=b"x" * (MAX_BODY + 1), timeout=5)
        assert big.status_code == 413
        resp = requests.post(f"{server.url}/hooks/stripe/{world.reseller}", data=b"{}", timeout=5)
        assert (resp.status_code, resp.json()) == (403, {"error": "not verified"})  # no Stripe-Signature
        assert requests.get(f"{server.url}/hooks/stripe/{world.reseller}", timeout=5).status_code == 405
    finally:
        server.stop()


def test_couch_down_is_503_so_the_gateway_retries(world):
    down = Couch("http://127.0.0.1:9", retries=0)
    client = make_app(down, world.config).test_client()
    resp = client.post(f"/hooks/yoomoney/{world.reseller}", data={"a": "b"})
    assert resp.status_code == 503


def test_secrets_never_shown(world):
    configure_all(world)
    shown = repr(redacted(world.couch, world.reseller))
    for section in SECRETS.values():
        for key, value in section.items():
            if "secret" in value:
                assert value not in shown, key
    assert "**********" in shown


def test_kazoo_http_sync_answers_from_the_ledger(client, world):
    body = {"account_id": world.customer, "sync_id": "3-abc", "items": {}}
    assert client.post("/kazoo/http_sync", json=body).status_code == 403
    world.configure("http_sync", {"authorization": "Bearer kazoo"}, reseller=world.master)
    headers = {"Authorization": "Bearer kazoo"}
    assert client.post("/kazoo/http_sync", json=body, headers={"Authorization": "Bearer guess"}).status_code == 403
    assert client.post("/kazoo/http_sync", json=body, headers=headers).status_code == 200
    world.ledger.debit(
        world.customer,
        Decimal("1.00"),
        "USD",
        kind="manual",
        reason="admin_discretion",
        description="test",
        at=datetime.now(UTC),
    )
    resp = client.post("/kazoo/http_sync", json=body, headers=headers)
    assert resp.status_code == 402 and resp.json["status"] == "delinquent"
    bad = client.post("/kazoo/http_sync", data=b"not json", headers=headers)
    assert bad.status_code == 400


@pytest.fixture
def fuzz_world(world, client, paypal):
    configure_all(world)
    world.configure("paypal", {"receiver_id": "M1", "verify_url": paypal.server.url})
    return world, client, world.all_docs(world.customer)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gateway=st.sampled_from(sorted(GATEWAYS)),
    body=st.binary(max_size=600),
    form=st.dictionaries(
        st.sampled_from(
            [
                "bt_signature",
                "bt_payload",
                "txn_id",
                "payment_status",
                "receiver_id",
                "sha1_hash",
                "amount",
                "currency",
                "label",
                "notification_type",
                "operation_id",
                "datetime",
                "custom",
            ]
        ),
        st.text(max_size=40),
        max_size=8,
    ),
    headers=st.dictionaries(
        st.sampled_from(["Stripe-Signature", "Content-Type", "X-Anything"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
        max_size=3,
    ),
    use_form=st.booleans(),
)
def test_fuzz_no_500_and_nothing_written(fuzz_world, gateway, body, form, headers, use_form):
    world, client, before = fuzz_world
    kwargs = {"data": form} if use_form else {"data": body}
    resp = client.post(f"/hooks/{gateway}/{world.reseller}", headers=headers, **kwargs)
    assert resp.status_code < 500, resp.json
    assert resp.status_code != 200 or not resp.json["booked"]
    assert world.all_docs(world.customer) == before
