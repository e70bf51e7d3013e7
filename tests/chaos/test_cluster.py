"""Faults on a three-node Apache CouchDB cluster (q=2, n=3), started here whatever `BOOKKEEPER_TEST_SERVER` says
(these tests are long: they run once, in the CouchDB run; docs/operations.md "Testing on CouchDB").

1. The chaos month (world.py) over 200 accounts, walked by a driver process (the daemon's engine and change path,
   `catch_up`, on a simulated clock) that is SIGKILLed at least 6 times (at random, 1.2–4 s into each run) while
   one node, then another, is SIGKILLed and revived under it. Its ledger must equal, document for document, an
   undisturbed walk of the same scenario with the same account ids on a single CouchDB node; every balance is
   credits minus charges.
2. `bookkeeper run` against the cluster while the whole cluster is stopped for 30 s and started again: the daemon
   recovers by itself (no restart), says so in its log and its metrics, and charges what changed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from waiting import wait_until

from bookkeeper import provision
from bookkeeper.billing import STATE_PREFIX
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.embedded import free_port
from bookkeeper.ledger import Ledger
from bookkeeper.servers import CouchDBServer, launcher_available

from . import world

ACCOUNTS = 200
MIN_KILLS = 6
NODE_FAULTS = {1: ("kill", 2), 2: ("revive", 2), 3: ("kill", 3), 4: ("revive", 3)}  # after this many driver kills
DEADLINE = 1200.0
OUTAGE = 30.0
BIN = Path(sys.executable).with_name("bookkeeper")


@pytest.fixture
def cluster(tmp_path):
    if not launcher_available():
        pytest.skip("starts its own CouchDB cluster: no CouchDB launcher here (docs/operations.md)")
    server = CouchDBServer(tmp_path / "cluster", nodes=3, kind="cluster").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.long(1500)
def test_a_month_on_a_cluster_with_node_and_driver_kills_leaves_the_single_node_ledger(cluster, tmp_path):
    node = CouchDBServer(tmp_path / "node").start()
    try:
        month = world.month(tmp_path, ACCOUNTS, node.url, cluster.url)
        rnd = random.Random(20261203)
        faults: list[tuple[str, int]] = []

        def node_fault(kills: int) -> bool:
            fault = NODE_FAULTS.get(kills)
            if fault is None or len(faults) > list(NODE_FAULTS).index(kills):
                return False
            time.sleep(rnd.uniform(1.0, 2.0))  # the driver is at work: the node goes (or comes back) under it
            action, k = fault
            (cluster.kill if action == "kill" else cluster.revive)(k)
            faults.append(fault)
            return True

        began = time.monotonic()
        kills, runs = world.drive(
            lambda: month.start_driver(cluster.url),
            min_kills=MIN_KILLS,
            disturb=node_fault,
            deadline=DEADLINE,
            rnd=rnd,
            log=month.log,
        )
        assert kills >= MIN_KILLS, f"the walk finished after only {kills} kills; see {month.log}"
        assert faults == list(NODE_FAULTS.values())
        assert month.walked(max(1.0, DEADLINE - (time.monotonic() - began)))

        couch, ref_couch = Couch(cluster.url, namespace="chaos-"), Couch(node.url, namespace="ref-")
        documents, pending = world.check_ledger(couch, ref_couch, month.ids, month.disturbed)
        print(
            f"cluster month: {kills} driver kills, node faults {faults}, {runs} driver runs, {documents} ledger "
            f"documents equal to the single node's, {pending} write-ahead charges in the ledger, "
            f"{time.monotonic() - began:.0f}s"
        )
    finally:
        node.stop()


PLAN = {"name": "Outage", "plan": {"devices": {"sip_device": {"rate": 10, "activation_charge": 2.5}}}}


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf"^bookkeeper_{name} (\S+)$", text, re.M)
    assert found, f"no bookkeeper_{name} on /metrics"
    return float(found.group(1))


@pytest.mark.long(300)
def test_the_daemon_recovers_by_itself_after_the_whole_cluster_stopped_for_30_s(cluster, tmp_path):
    namespace = "outage-"
    couch = Couch(cluster.url, namespace=namespace)
    config = load_config(env={}, couch_url=cluster.url, namespace=namespace)
    now = datetime.now(UTC)
    _, accounts = provision.funded_customers(couch, config, "outage", PLAN, 3, 500, now, name="Outage")
    ledger = Ledger(couch)

    def activations(account: str) -> Decimal:
        entries = ledger.entries(account, now - timedelta(days=40), datetime.now(UTC) + timedelta(days=400))
        return sum((e.amount for e in entries if e.type == "debit" and e.kind == "activation"), Decimal(0))

    def add_devices(n: int) -> None:
        for account in accounts:
            device = {"_id": f"dev{n}", "pvt_type": "device", "device_type": "sip_device"}
            provision.add_docs(couch, account, [device], datetime.now(UTC))

    metrics_port, log = free_port(), tmp_path / "daemon.log"
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": cluster.url, "BOOKKEEPER_NAMESPACE": namespace}
    with open(log, "ab") as out:
        daemon = subprocess.Popen(
            [str(BIN), "run", "--metrics-port", str(metrics_port), "--hooks-port", str(free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        states = couch.db(config.bookkeeper_db)

        def evaluated():
            """every account evaluated once this period (a unit present then is no new unit)"""
            return len(states.get_many([STATE_PREFIX + a for a in accounts])) == len(accounts)

        wait_until(evaluated, 120, every=1)
        add_devices(1)
        wait_until(lambda: all(activations(a) == Decimal("2.5") for a in accounts), 60, every=1)
        assert metric(metrics_port, "couch_outages_total") == 0 and metric(metrics_port, "couch_reachable") == 1

        cluster.stop()
        stopped = time.monotonic()
        time.sleep(OUTAGE)  # the outage under test
        assert daemon.poll() is None, log.read_text()
        down = metric(metrics_port, "couch_reachable")
        cluster.start()
        print(f"cluster down for {time.monotonic() - stopped:.0f} s")

        add_devices(2)  # the daemon has not been restarted: it must see these by itself
        wait_until(lambda: all(activations(a) == Decimal("5.0") for a in accounts), 120, every=1)
        wait_until(lambda: metric(metrics_port, "couch_recoveries_total") >= 1, 60, every=1)
        text = log.read_text()
        assert down == 0 and metric(metrics_port, "couch_outages_total") == 1, text[-3000:]
        assert metric(metrics_port, "couch_reachable") == 1
        assert re.search(r"CouchDB at \S+ does not answer", text), text[-3000:]
        assert re.search(r"CouchDB at \S+ answers again after \d+ s; recovered", text), text[-3000:]
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/health", timeout=5).read())
        assert health["couch_reachable"] is True and daemon.poll() is None
        for account in accounts:
            assert activations(account) == Decimal("5.0"), account  # nothing charged twice either
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
