"""`bookkeeper run` as a real process against a real server: changes become charges in real time, nothing is lost
or charged twice across a SIGKILL, and new account databases are picked up without a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper import provision
from bookkeeper.charging import prorated
from bookkeeper.clock import day_index, period_containing
from bookkeeper.config import load_settings
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db, modb
from bookkeeper.embedded import free_port
from bookkeeper.ledger import Ledger

BIN = Path(sys.executable).parent / "bookkeeper"
PLAN = {"name": "Real time", "plan": {"devices": {"sip_device": {"rate": 30, "activation_charge": 2}}}}


def wait_for(check, timeout=60.0, every=0.3):
    """Poll `check()` until it returns a truthy value; fail with its last value after `timeout` seconds."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"still not true after {timeout}s: {value!r}")


class Deployment:
    """A namespaced KAZOO world on the test server, and daemons started against it."""

    def __init__(self, server):
        self.namespace = f"d{uuid.uuid4().hex[:10]}-"
        self.couch = Couch(server.url, namespace=self.namespace, retries=3)
        self.settings = load_settings(env={}, couch_url=server.url, namespace=self.namespace)
        self.now = datetime.now(timezone.utc)
        self.master = provision.new_account_id()
        provision.create_account(self.couch, self.settings, self.master, "Master", [], self.now)
        provision.put_plan(self.couch, self.master, "rt", PLAN, self.now)
        self.ids = [self.master]
        self.ledger = Ledger(self.couch)
        self.env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": self.namespace,
                    "BOOKKEEPER_MASTER_ACCOUNT": self.master, "BOOKKEEPER_FEED_DISCOVERY_INTERVAL": "1",
                    "BOOKKEEPER_FEED_POLL_INTERVAL": "0.5"}
        self.procs: list[subprocess.Popen] = []

    def account(self, devices: int = 1, balance: int = 1000) -> str:
        account = provision.new_account_id()
        provision.create_account(self.couch, self.settings, account, "Customer", [self.master],
                                 datetime.now(timezone.utc), plans={"rt": self.master})
        self.ledger.credit(account, Decimal(balance), "USD", kind="credit", reason="manual_addition",
                           description="funds", at=datetime.now(timezone.utc), key=f"funds:{account}")
        if devices:
            provision.add_docs(self.couch, account, [{"pvt_type": "device"}] * devices, datetime.now(timezone.utc))
        self.ids.append(account)
        return account

    def start(self, worker: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(BIN), "run", "--worker-id", worker, "--metrics-port", str(free_port()),
             "--hooks-port", str(free_port())], env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(f"/tmp/{self.namespace}{worker}.log", "w"))
        self.procs.append(proc)
        return proc

    def debits(self, account: str, kind: str | None = None):
        now = datetime.now(timezone.utc)
        return [e for e in self.ledger.entries(account, now - timedelta(days=40), now + timedelta(days=1), kind)
                if e.type == "debit"]

    def quantity(self, account: str):
        doc = self.couch.db("services").get(account)
        return ((doc.get("quantities") or {}).get("account") or {}).get("devices", {}).get("sip_device")

    def remove(self):
        for account in self.ids:
            for name in (account_db(account), *self.ledger_dbs(account)):
                self.couch.db(name).delete()
        for name in ("accounts", "services", self.settings.bookkeeper_db):
            self.couch.db(name).delete()

    def ledger_dbs(self, account):
        return [modb(account, y, m) for y, m in self.ledger.months(account)]

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def deployment(own_server):
    d = Deployment(own_server)
    yield d
    d.stop()
    d.remove()


def expected_prorate(rise_total: Decimal) -> Decimal:
    now = datetime.now(timezone.utc)
    period = period_containing(now, 1, "UTC")
    return prorated(rise_total, day_index(now, period), period.days, "USD")


def test_new_devices_appear_as_quantities_and_charges_in_real_time(deployment):
    acme = deployment.account(devices=1)
    deployment.start("w1")
    assert wait_for(lambda: deployment.quantity(acme) == 1)
    [mrc] = wait_for(lambda: deployment.debits(acme, "mrc"))
    provision.add_docs(deployment.couch, acme, [{"pvt_type": "device"}, {"pvt_type": "device"}],
                       datetime.now(timezone.utc))
    assert wait_for(lambda: deployment.quantity(acme) == 3, timeout=30)
    [prorate] = wait_for(lambda: deployment.debits(acme, "prorate"), timeout=30)
    [activation] = wait_for(lambda: deployment.debits(acme, "activation"), timeout=30)
    assert activation.amount == Decimal("4")  # 2 new units above the period's mark x 2.00
    assert prorate.amount == expected_prorate(Decimal(60))  # (90 - 30) x days left / N
    assert prorate.quantity == 3 and prorate.factor.endswith(f"/{period_containing(prorate.at, 1, 'UTC').days}")


def test_a_sigkilled_daemon_loses_no_change_and_charges_nothing_twice(deployment):
    accounts = [deployment.account(devices=1) for _ in range(6)]
    first = deployment.start("w1")
    wait_for(lambda: all(deployment.debits(a, "mrc") for a in accounts), timeout=90)
    for account in accounts:
        provision.add_docs(deployment.couch, account, [{"pvt_type": "device"}] * 3, datetime.now(timezone.utc))
    time.sleep(0.4)
    first.send_signal(signal.SIGKILL)  # in the middle of the batch
    first.wait(10)
    deployment.start("w1")
    for account in accounts:
        assert wait_for(lambda: deployment.quantity(account) == 4, timeout=90)
        wait_for(lambda: deployment.debits(account, "activation"), timeout=30)
    for account in accounts:
        debits = deployment.debits(account)
        keys = [e.key for e in debits]
        assert len(keys) == len(set(keys)), f"a charge was written twice for {account}"
        assert len(deployment.debits(account, "mrc")) == 1
        assert sum(e.quantity for e in deployment.debits(account, "activation")) == 3  # units 2..4, each once
        assert sum(e.amount for e in deployment.debits(account, "activation")) == Decimal(6)


def test_a_new_account_database_is_picked_up_while_running(deployment):
    deployment.start("w1")
    time.sleep(2)
    late = deployment.account(devices=2)
    # seen with 0 devices first (nothing to pay) or with both: either way the month costs 60 prorated from today
    wait_for(lambda: deployment.quantity(late) == 2, timeout=60)
    recurring = wait_for(lambda: [e for e in deployment.debits(late) if e.kind in ("mrc", "prorate")], timeout=60)
    assert sum(e.amount for e in recurring) == expected_prorate(Decimal(60))
    assert recurring[-1].quantity == 2
