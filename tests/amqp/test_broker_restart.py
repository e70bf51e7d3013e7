"""`bookkeeper run` with `BOOKKEEPER_AMQP_URL` as a real process, its RabbitMQ restarted in the middle of a run of
update requests: it reconnects by itself, every acknowledged request's effect is written once, nothing is done
twice (the change feed charges the same devices under the same ids), and `/metrics` counts it all."""

from __future__ import annotations

from decimal import Decimal

import pytest
from amqp_world import Daemon, standing_req, update_req
from waiting import wait_until

from bookkeeper.amqp.kazoo import KazooClient

pytestmark = pytest.mark.slow


def test_a_broker_restart_in_the_middle_of_a_run_loses_nothing_acknowledged_and_does_nothing_twice(
    deployment, broker, tmp_path
):
    accounts = [deployment.customer(balance=200, devices=1) for _ in range(6)]
    daemon = Daemon(deployment, broker, tmp_path)
    try:
        daemon.wait_connected()
        kazoo = KazooClient(broker.url)
        answered = {}
        for account in accounts:
            deployment.add_devices(account, 2)
        for account in accounts[:3]:
            answered[account] = kazoo.call("update", update_req(deployment, account, devices=3, before=1), 20)
        for account in accounts[3:]:  # in flight while the broker goes down
            kazoo.publish("update", kazoo.message("update", update_req(deployment, account, devices=3, before=1)))
        broker.restart()
        assert all(reply["Status"] == "success" for reply in answered.values())

        wait_until(lambda: daemon.metric("amqp_connections_total") >= 2, 60, what="the reconnection")
        kazoo = KazooClient(broker.url)  # KAZOO's own connection is new too
        for account in accounts:  # KAZOO's next update for each account (those that timed out, and the others)
            reply = kazoo.call("update", update_req(deployment, account, devices=3, before=1), 20)
            assert reply is not None and reply["Status"] == "success", reply
            assert "invoice matches" in reply["Message"]
        standing = kazoo.call("standing", standing_req(deployment, accounts[0], 10_000), 2)
        assert standing is not None and standing["Status"] == "good_standing"
        kazoo.close()

        for account in accounts:
            debits = deployment.debits(account)
            keys = [e.key for e in debits]
            assert len(keys) == len(set(keys)), f"a charge was written twice for {account}"
            assert [e.kind for e in debits].count("mrc") == 1
            activations = deployment.debits(account, "activation")  # one, or two if the feed saw one device first
            assert sum(e.quantity for e in activations) == 2 and sum(e.amount for e in activations) == Decimal(4)
            assert max(e.quantity for e in deployment.debits(account, "prorate")) == 3
        assert daemon.metric("amqp_update_requests_total") >= len(accounts) + 3, daemon.logged()
        assert daemon.metric("amqp_standing_requests_total") == 1
        assert daemon.metric("amqp_update_seconds_count") >= len(accounts) + 3
    finally:
        daemon.stop()
