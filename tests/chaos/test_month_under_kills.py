"""A month over 200 accounts with device churn, trunk changes and payments, walked by a driver process that is
SIGKILLed at random points (at least 10 times) while its PouchDB Server (on disk) is restarted twice. The ledger it
leaves must equal, document for document, the ledger of an undisturbed walk of the same scenario with the same
account ids on another server; every balance must equal the account's credits minus its charges."""

from __future__ import annotations

import random
import time

import pytest
from testserver import start_test_server

from bookkeeper.couch import Couch

from . import world

pytestmark = pytest.mark.long(600)
ACCOUNTS = 200
MIN_KILLS = 12
SERVER_RESTARTS_AT = (4, 8)  # after these many kills the server is restarted under a running driver
DEADLINE = 480.0


def test_a_month_with_kills_and_server_restarts_leaves_the_undisturbed_ledger(tmp_path):
    server = start_test_server(tmp_path / "disk", persistent=True, restarts=True)
    reference_server = start_test_server(tmp_path / "ref")
    try:
        month = world.month(tmp_path, ACCOUNTS, reference_server.url, server.url)
        rnd = random.Random(20261122)
        restarts = []

        def restart(kills: int) -> bool:
            if kills not in SERVER_RESTARTS_AT or len(restarts) > SERVER_RESTARTS_AT.index(kills):
                return False
            time.sleep(rnd.uniform(1.5, 3.0))  # the driver is at work: take its server away under it
            server.stop()
            time.sleep(0.5)  # on purpose: the server stays down a moment
            server.start()
            restarts.append(kills)
            return True

        began = time.monotonic()
        kills, runs = world.drive(
            lambda: month.start_driver(server.url),
            min_kills=MIN_KILLS,
            disturb=restart,
            deadline=DEADLINE,
            rnd=rnd,
            log=month.log,
        )
        assert kills >= 10, f"the walk finished after only {kills} kills; see {month.log}"
        assert len(restarts) == 2
        assert month.walked(max(1.0, DEADLINE - (time.monotonic() - began)))

        couch, ref_couch = Couch(server.url, namespace="chaos-"), Couch(reference_server.url, namespace="ref-")
        documents, pending = world.check_ledger(couch, ref_couch, month.ids, month.disturbed)
        print(
            f"chaos month: {kills} kills, {len(restarts)} server restarts, {runs} driver runs, "
            f"{documents} ledger documents equal, {pending} write-ahead charges in the ledger, "
            f"{time.monotonic() - began:.0f}s"
        )
    finally:
        server.stop()
        reference_server.stop()
