"""KAZOO 4.3's bookkeeper requests over a real RabbitMQ, answered by our consumer through the billing engine:
every reply field, the documents written, and the money."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from amqp_world import OURS, check_headers, collect_recurring_req, standing_req, transaction_req, update_req
from waiting import wait_until

from bookkeeper.amqp.answers import attach
from bookkeeper.charging import prorated
from bookkeeper.clock import day_index, period_containing
from feeds.amqp import AmqpConsumer
from feeds.metrics import Metrics

pytestmark = pytest.mark.slow


def call(kazoo, kind: str, fields: dict, timeout: float = 10.0) -> tuple[dict, dict]:
    message = kazoo.message(kind, fields)
    kazoo.publish(kind, message)
    reply = kazoo.wait(message["Msg-ID"], timeout)
    assert reply is not None, f"no {kind}_resp within {timeout} s"
    check_headers(reply, message, kind)
    return message, reply


def expected_prorate(rise_total: Decimal) -> Decimal:
    now = datetime.now(UTC)
    period = period_containing(now, 1, "UTC")
    return prorated(rise_total, day_index(now, period), period.days, "USD")


def test_standing_of_a_funded_an_empty_and_a_blocked_account(world, consumer, kazoo):
    funded = world.customer(balance=100, devices=1)  # 100.00 - the month's 30.00 (prorated) leaves the rest
    empty = world.customer(balance=0, devices=0)
    blocked = world.customer(balance=0, devices=1)  # cannot pay its MRC: delinquent, blocked by us
    available = Decimal(100) - expected_prorate(Decimal(30))

    started = time.monotonic()
    _, good = call(kazoo, "standing", standing_req(world, funded, 200_000))
    assert time.monotonic() - started < 2.0  # KAZOO's standing timeout
    assert good["Status"] == "good_standing" and "Reason" not in good
    assert good["Message"] == f"Available funds of ${available:,.2f} cover the estimated charge of $20.00."
    assert good["Details"] == {
        "balance": int(available * 10_000),
        "available": int(available * 10_000),
        "estimated_withdrawal": 200_000,
        "postpay_allowed": False,
        "currency": "USD",
    }
    _, short = call(kazoo, "standing", standing_req(world, funded, int(available * 10_000) + 100))
    assert short["Status"] == "error" and short["Reason"] == "insufficient_funds"
    now = datetime.now(UTC)  # KAZOO debits a call straight into the ledger: the balance is read live
    world.ledger.debit(
        funded,
        available - 1,
        "USD",
        kind="manual",
        reason="per_minute",
        description="calls",
        at=now,
        key=f"calls:{funded}",
    )
    _, after_calls = call(kazoo, "standing", standing_req(world, funded, 20_000))
    assert after_calls["Status"] == "error" and after_calls["Details"]["available"] == 10_000
    world.ledger.debit(
        funded,
        Decimal(2),
        "USD",
        kind="manual",
        reason="per_minute",
        description="calls",
        at=now,
        key=f"more calls:{funded}",
    )
    world.engine.evaluate(funded)  # negative: blocked by us, and the documents kept for standing are forgotten
    _, now_blocked = call(kazoo, "standing", standing_req(world, funded, 0))
    assert now_blocked["Reason"] == "delinquent"

    _, nothing = call(kazoo, "standing", standing_req(world, empty, 50_000))
    assert nothing["Status"] == "error" and nothing["Reason"] == "insufficient_funds"
    assert nothing["Message"] == "Available funds of $0.00 do not cover the estimated charge of $5.00."
    _, free = call(kazoo, "standing", standing_req(world, empty, 0))
    assert free["Status"] == "good_standing"

    assert world.couch.db("accounts").get(blocked)["pvt_enabled"] is False
    _, refused = call(kazoo, "standing", standing_req(world, blocked, 0))
    assert refused["Status"] == "error" and refused["Reason"] == "delinquent"
    assert refused["Message"].startswith("This account is blocked for unpaid charges")

    other = kazoo.message("standing", standing_req(world, funded, 0, bookkeeper_type="braintree"))
    kazoo.publish("standing", other)
    assert kazoo.wait(other["Msg-ID"], 1.5) is None  # another bookkeeper's request: not ours to answer
    assert consumer.metrics.value("amqp_standing_requests") == 7
    assert consumer.metrics.value("amqp_ignored") >= 1


def test_a_pid_server_id_is_answered_as_kazoo_publishes_to_it(world, consumer, kazoo, caplog):
    """`pid://<pid>/<queue>` (kapi:encode_pid/2): the reply goes to <queue> with `Deliver-To-PID: <pid>`, as
    kz_amqp_util:basic_publish sends it; a pid:// form without a queue is refused, and nothing is published."""
    account = world.customer(balance=10)
    target = f"pid://<0.4242.0>/{kazoo.queue}"
    message = kazoo.message("standing", standing_req(world, account, 0), server_id=target)
    kazoo.publish("standing", message)
    reply = kazoo.wait(message["Msg-ID"], 10)
    assert reply is not None and reply["Status"] == "good_standing"
    check_headers(reply, message, "standing")
    assert kazoo.headers[message["Msg-ID"]] == {"Deliver-To-PID": b"<0.4242.0>"}

    plain = kazoo.message("standing", standing_req(world, account, 0))
    kazoo.publish("standing", plain)
    assert kazoo.wait(plain["Msg-ID"], 10) is not None and kazoo.headers[plain["Msg-ID"]] == {}

    unaddressable = kazoo.message("standing", standing_req(world, account, 0), server_id="pid://<0.4242.0>")
    with caplog.at_level("ERROR", logger="feeds.amqp"):
        kazoo.publish("standing", unaddressable)
        assert kazoo.wait(unaddressable["Msg-ID"], 1.5) is None
    wait_until(lambda: consumer.metrics.value("amqp_rejected") == 1, 5, what="the refusal")
    assert "standing_req: Server-ID: no reply can be addressed: 'pid://<0.4242.0>' is not pid://<pid>/<queue>" in (
        caplog.text
    )
    assert consumer.metrics.value("amqp_standing_requests") == 2


def test_a_standing_request_is_not_queued_behind_updates_in_hand(world, rabbit, kazoo):
    """One worker for updates: three update_reqs published first keep it busy (and hold its prefetch), yet the
    standing_req published after them is answered before the last of them, on its own queue and threads."""
    accounts = [world.customer(balance=100, devices=1) for _ in range(3)]
    for account in accounts:
        world.add_devices(account, 2)
    consumer = AmqpConsumer(
        rabbit.url, attach(world.engine), bookkeeper_type=OURS, queue=f"{world.namespace}hol", workers=1
    ).start()
    try:
        assert consumer.wait_connected(20)
        updates = [kazoo.message("update", update_req(world, a, devices=3, before=1)) for a in accounts]
        for message in updates:
            kazoo.publish("update", message)
        standing = kazoo.message("standing", standing_req(world, accounts[0], 0))
        kazoo.publish("standing", standing)
        assert kazoo.wait(standing["Msg-ID"], 10)["Status"] == "good_standing"
        assert all(kazoo.wait(m["Msg-ID"], 30)["Status"] == "success" for m in updates)
        assert kazoo.replies[standing["Msg-ID"]][0] < kazoo.replies[updates[-1]["Msg-ID"]][0]
    finally:
        consumer.stop()


def test_update_with_two_new_devices_charged_once_though_delivered_twice(world, consumer, kazoo):
    acme = world.customer(balance=200, devices=1)
    [mrc] = world.debits(acme, "mrc")
    world.add_devices(acme, 2)  # KAZOO commits the change and sends update_req before our feed saw it
    message = kazoo.message("update", update_req(world, acme, devices=3, before=1))
    kazoo.publish("update", message)
    first = kazoo.wait(message["Msg-ID"], 20)
    check_headers(first, message, "update")
    assert first["Status"] == "success" and "invoice matches" in first["Message"]
    charges = {c["kind"]: c for c in first["Details"]}
    assert set(charges) == {"prorate", "activation"} and all(c["written"] for c in first["Details"])
    assert charges["activation"]["amount"] == 40_000  # 2 new units x 2.00, in KAZOO units
    assert charges["prorate"]["amount"] == int(expected_prorate(Decimal(60)) * 10_000)

    del kazoo.replies[message["Msg-ID"]]
    kazoo.publish("update", message)  # the same message, delivered again
    second = kazoo.wait(message["Msg-ID"], 20)
    assert second["Status"] == "success" and second["Details"] == []
    assert second["Message"] == "charged $0.00 in 0 charge(s); invoice matches"

    [prorate] = world.debits(acme, "prorate")
    [activation] = world.debits(acme, "activation")
    assert prorate.amount == expected_prorate(Decimal(60)) and prorate.quantity == 3
    assert activation.amount == Decimal("4.00")
    assert [e.id for e in world.debits(acme, "mrc")] == [mrc.id]
    assert len(world.debits(acme)) == 3


def test_update_reports_kazoo_invoice_differences_and_dry_run_writes_nothing(world, consumer, kazoo):
    acme = world.customer(balance=200, devices=1)
    world.add_devices(acme, 1)
    before = world.every_doc(acme)
    _, dry = call(kazoo, "update", update_req(world, acme, devices=3, before=1, dry_run=True), timeout=20)
    assert dry["Status"] == "success" and dry["Message"].startswith("Dry run: would charge")
    differences = [d for d in dry["Details"] if d["type"] == "difference"]
    assert differences == [
        {"type": "difference", "category": "devices", "item": "sip_device", "field": "quantity", "kazoo": 3, "ours": 2},
        {"type": "difference", "category": "devices", "item": "sip_device", "field": "billable", "kazoo": 3, "ours": 2},
        {"type": "difference", "category": "devices", "item": "sip_device", "field": "total", "kazoo": 90, "ours": 60},
    ]
    assert {c["kind"] for c in dry["Details"] if c["type"] == "charge"} == {"prorate", "activation"}
    assert not any(c["written"] for c in dry["Details"] if c["type"] == "charge")
    assert world.every_doc(acme) == before  # nothing written anywhere for a dry run
    assert world.debits(acme, "activation") == []


def test_unknown_account_and_bad_amount_are_answered_with_the_failure_kazoo_expects(world, consumer, kazoo):
    _, unknown = call(kazoo, "standing", standing_req(world, "0" * 32, 0))
    assert unknown["Status"] == "fatal" and unknown["Reason"] == "bookkeeper_fault"
    assert unknown["Message"] == f"Account {'0' * 32} is not known to the bookkeeper."


@pytest.fixture
def braintree(world):
    from gateways.conftest import BraintreeStub  # the project's Braintree API stub, spoken to by the real SDK

    stub = BraintreeStub("acme")
    world.configure_braintree(stub.server.url)
    yield stub
    stub.server.close()


def test_sale_and_refund_through_braintree_once_per_transaction_and_writing_nothing(world, consumer, kazoo, braintree):
    acme = world.customer(balance=0, devices=0)
    braintree.vaulted.add(acme)
    before = world.every_doc(acme)

    sale = transaction_req(world, acme, 250_000)
    _, sold = call(kazoo, "sale", sale)
    assert sold["Status"] == "success"
    assert (sold["Transaction-ID"], sold["Transaction-DB"]) == (sale["Transaction-ID"], sale["Transaction-DB"])
    [made] = braintree.made("sale")
    assert (made["amount"], made["customer"]["id"], made["order-id"]) == (
        "25.00",
        acme,
        f"kazoo-{sale['Transaction-ID']}",
    )
    assert sold["Details"] == {
        "id": made["id"],
        "status": "submitted_for_settlement",
        "amount": 250_000,
        "currency": "USD",
        "order_id": f"kazoo-{sale['Transaction-ID']}",
        "gateway": "braintree",
    }
    _, again = call(kazoo, "sale", sale)  # KAZOO asks again for the same transaction
    assert again["Status"] == "success" and again["Details"]["id"] == made["id"]
    assert len(braintree.made("sale")) == 1

    refund = transaction_req(world, acme, 100_000)
    _, refunded = call(kazoo, "refund", refund)
    assert refunded["Status"] == "success" and refunded["Transaction-ID"] == refund["Transaction-ID"]
    [credit] = braintree.made("credit")
    assert (credit["amount"], credit["order-id"]) == ("10.00", f"kazoo-{refund['Transaction-ID']}")
    assert world.every_doc(acme) == before  # KAZOO writes its transaction and ledger; we write nothing
    assert world.ledger.balance(acme) == Decimal(0)

    stranger = world.customer(balance=0, devices=0)  # no card on file
    _, declined = call(kazoo, "sale", transaction_req(world, stranger, 50_000))
    assert declined["Status"] == "error" and declined["Reason"] == "processor_declined"
    assert declined["Message"] == "Do Not Honor"
    _, odd = call(kazoo, "sale", transaction_req(world, acme, 250_001))  # 25.0001 USD: not whole cents
    assert odd["Status"] == "fatal" and "Amount" in odd["Message"] and "2 decimal digits" in odd["Message"]
    assert len(braintree.made("sale")) == 2  # the declined one; the odd amount never reached Braintree
    braintree.currency = "EUR"  # a merchant account in another currency: refused, never converted
    _, foreign = call(kazoo, "sale", transaction_req(world, acme, 50_000))
    assert foreign["Status"] == "error" and foreign["Message"] == "charged in EUR, not USD"


def test_collect_recurring_evaluates_as_of_the_due_time(world, consumer, kazoo):
    funded = world.customer(balance=200, devices=1)
    empty = world.customer(balance=0, devices=1)
    now = datetime.now(UTC)
    next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    before = world.every_doc(funded)
    request, ahead = call(kazoo, "collect_recurring", collect_recurring_req(world, funded, next_month))
    assert ahead["Status"] == "successful"
    assert (ahead["Account-ID"], ahead["Bookkeeper-ID"], ahead["Bookkeeper-Type"]) == (
        funded,
        request["Bookkeeper-ID"],
        OURS,
    )
    assert ahead["Details"]["dry_run"] is True and ahead["Details"]["period_start"].startswith(f"{next_month:%Y-%m-%d}")
    assert world.every_doc(funded) == before  # its MRC is charged when the period starts, not now

    _, due = call(kazoo, "collect_recurring", collect_recurring_req(world, funded, now - timedelta(minutes=1)))
    assert due["Status"] == "successful" and due["Details"]["dry_run"] is False
    assert len(world.debits(funded, "mrc")) == 1  # paid once, at its first evaluation

    _, unpaid = call(kazoo, "collect_recurring", collect_recurring_req(world, empty, next_month))
    assert unpaid["Status"] == "error" and unpaid["Reason"] == "insufficient_funds"


def test_a_request_whose_ack_was_lost_is_delivered_again_and_answered_from_what_was_written(world, rabbit, kazoo):
    acme = world.customer(balance=200, devices=1)
    world.add_devices(acme, 2)
    answers, answered = attach(world.engine), []
    answer = answers.answer

    def answer_then_lose_the_connection(request):
        result = answer(request)  # the charges are written
        answered.append(result)
        if len(answered) == 1:  # the broker drops our connection before the reply and the ack
            assert rabbit.close_connections("redelivery@test") == 1
        return result

    answers.answer = answer_then_lose_the_connection
    consumer = AmqpConsumer(
        rabbit.url,
        answers,
        bookkeeper_type=OURS,
        queue=f"{world.namespace}redelivery",
        metrics=Metrics(),
        workers=2,
        node="redelivery@test",
    ).start()
    try:
        assert consumer.wait_connected(20)
        message = kazoo.message("update", update_req(world, acme, devices=3, before=1))
        kazoo.publish("update", message)

        def answered_twice() -> bool:
            """the request answered once, then again after its redelivery"""
            kazoo.connection.process_data_events(time_limit=0.2)
            return len(answered) >= 2

        wait_until(answered_twice, timeout=60, every=0)
        reply = kazoo.wait(message["Msg-ID"], 10)  # the reply to the redelivered request (the first may be lost)
        check_headers(reply, message, "update")
        assert reply["Status"] == "success"
        assert [c["kind"] for c in answered[0]["Details"]] == ["prorate", "activation"]
        assert (
            answered[1]["Details"] == [] and answered[1]["Message"] == "charged $0.00 in 0 charge(s); invoice matches"
        )
        assert len(answered) == 2
        assert consumer.metrics.value("amqp_redelivered") == 1
        assert consumer.metrics.value("amqp_connections") == 2
    finally:
        consumer.stop()
    assert [e.quantity for e in world.debits(acme, "prorate")] == [3]
    assert sum(e.amount for e in world.debits(acme, "activation")) == Decimal(4)
