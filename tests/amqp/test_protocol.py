"""The protocol's pure parts and settings: KAZOO's validation of requests, reply headers, JSON, configuration."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bookkeeper.amqp import protocol
from bookkeeper.config import load_config
from bookkeeper.errors import InputError

REQUEST = {
    "Account-ID": "a" * 32,
    "Bookkeeper-ID": "b" * 32,
    "Bookkeeper-Type": "couch_bookkeeper",
    "Vendor-ID": "c" * 32,
    "Items": [],
    "Estimated-Withdrawal": 10_000,
    "Msg-ID": "m1",
    "Server-ID": "q1",
    "Event-Category": "bookkeepers",
    "Event-Name": "standing_req",
    "App-Name": "kazoo_services",
}


def body(**changes) -> bytes:
    return json.dumps({k: v for k, v in {**REQUEST, **changes}.items() if v is not None}).encode()


def test_requests_are_validated_as_kazoo_validates_them():
    request = protocol.parse("bookkeepers.standing.request", body())
    assert request.kind == "standing" and request["Estimated-Withdrawal"] == 10_000
    with pytest.raises(InputError, match="standing_req: Estimated-Withdrawal: missing"):
        protocol.parse("bookkeepers.standing.request", body(**{"Estimated-Withdrawal": None}))
    with pytest.raises(InputError, match="standing_req: Server-ID: missing"):
        protocol.parse("bookkeepers.standing.request", body(**{"Server-ID": None}))
    with pytest.raises(InputError, match="Event-Name: must be 'standing_req'"):
        protocol.parse("bookkeepers.standing.request", body(**{"Event-Name": "sale_req"}))
    with pytest.raises(InputError, match="Estimated-Withdrawal: must be an integer"):
        protocol.parse("bookkeepers.standing.request", body(**{"Estimated-Withdrawal": 1.5}))
    with pytest.raises(InputError, match="not a bookkeeper request"):
        protocol.parse("bookkeepers.standing.response", body())


def test_a_pid_server_id_is_addressed_as_kazoo_publishes_to_it():
    """kz_amqp_util:basic_publish: `pid://(.*)/(.*)`, the queue after the last slash, the pid in a header."""
    assert protocol.reply_address("targeted_q1") == ("targeted_q1", None)
    assert protocol.reply_address("pid://<0.123.0>/kazoo_apps@host-q") == (
        "kazoo_apps@host-q",
        {"Deliver-To-PID": b"<0.123.0>"},
    )
    assert protocol.reply_address("pid://<0.1.0>/a/b") == ("b", {"Deliver-To-PID": b"<0.1.0>/a"})
    request = protocol.parse("bookkeepers.standing.request", body(**{"Server-ID": "pid://<0.9.0>/q9"}))
    assert request.reply_to == ("q9", {"Deliver-To-PID": b"<0.9.0>"})
    for bad in ("pid://<0.9.0>", "pid://<0.9.0>/", "pid:///q9"):
        with pytest.raises(InputError, match=r"standing_req: Server-ID: no reply can be addressed: .* is not pid://"):
            protocol.parse("bookkeepers.standing.request", body(**{"Server-ID": bad}))
    with pytest.raises(InputError, match="Server-ID: must be a string"):
        protocol.parse("bookkeepers.standing.request", body(**{"Server-ID": 7}))


def test_replies_carry_the_default_headers_and_kazoo_json():
    request = protocol.parse(
        "bookkeepers.sale.request",
        json.dumps(
            {
                **REQUEST,
                "Event-Name": "sale_req",
                "Transaction-ID": "202612-x",
                "Transaction-DB": "db",
                "Amount": 10_000,
            }
        ).encode(),
    )
    message = protocol.reply(
        request,
        {
            "Status": "success",
            "Transaction-ID": "202612-x",
            "Transaction-DB": "db",
            "Reason": None,
            "Details": {"rate": Decimal("9.99"), "units": Decimal(3)},
        },
        app_name="couch-bookkeeper",
        app_version="1",
        node="n@h",
    )
    assert message == {
        "Status": "success",
        "Transaction-ID": "202612-x",
        "Transaction-DB": "db",
        "Details": {"rate": Decimal("9.99"), "units": Decimal(3)},
        "Msg-ID": "m1",
        "Event-Category": "bookkeepers",
        "Event-Name": "sale_resp",
        "App-Name": "couch-bookkeeper",
        "App-Version": "1",
        "Node": "n@h",
    }
    assert json.loads(protocol.encode(message))["Details"] == {"rate": 9.99, "units": 3}
    with pytest.raises(ValueError, match="sale_resp without Transaction-ID"):
        protocol.reply(request, {"Status": "success", "Transaction-DB": "db"}, app_name="a", app_version="1", node="n")


def test_amqp_settings_come_from_the_environment_and_hide_credentials():
    config = load_config(
        env={"BOOKKEEPER_AMQP_URL": "amqp://kazoo:secret@rabbit:5672/%2F", "BOOKKEEPER_AMQP_WORKERS": "4"}
    )
    assert config.amqp_url == "amqp://kazoo:secret@rabbit:5672/%2F" and config.amqp_workers == 4
    assert config.amqp_bookkeeper_type == "couch_bookkeeper"
    assert config.amqp_queue == "couch_bookkeeper_shared_listener"
    assert "secret" not in json.dumps(config.display())
    assert load_config(env={}).amqp_url is None
