"""A namespaced KAZOO world on the test server, and `bookkeeper run` processes started against it."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from waiting import wait_until

from bookkeeper import provision
from bookkeeper.charging import prorated
from bookkeeper.clock import day_index, period_containing
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db, modb
from bookkeeper.embedded import free_port
from bookkeeper.ledger import Ledger
from feeds.metrics import scrape

BIN = Path(sys.executable).parent / "bookkeeper"
PLAN = {"name": "Real time", "plan": {"devices": {"sip_device": {"rate": 30, "activation_charge": 2}}}}


wait_for = functools.partial(wait_until, timeout=60.0, every=0.3)  # a daemon in its own process is slower to see


def expected_prorate(rise_total: Decimal) -> Decimal:
    """A rise of the monthly total charged today: rise x days left / N, in USD."""
    now = datetime.now(UTC)
    period = period_containing(now, 1, "UTC")
    return prorated(rise_total, day_index(now, period), period.days, "USD")


class Deployment:
    """A namespaced KAZOO world on the test server, and daemons started against it."""

    def __init__(self, server):
        self.namespace = f"d{uuid.uuid4().hex[:10]}-"
        self.couch = Couch(server.url, namespace=self.namespace, retries=3)
        self.config = load_config(env={}, couch_url=server.url, namespace=self.namespace)
        self.now = datetime.now(UTC)
        self.master = provision.new_account_id()
        provision.create_account(self.couch, self.config, self.master, "Master", [], self.now)
        provision.put_plan(self.couch, self.master, "rt", PLAN, self.now)
        self.ids = [self.master]
        self.ledger = Ledger(self.couch)
        self.env = {
            **os.environ,
            "BOOKKEEPER_COUCH_URL": server.url,
            "BOOKKEEPER_NAMESPACE": self.namespace,
            "BOOKKEEPER_MASTER_ACCOUNT": self.master,
            "BOOKKEEPER_FEED_DISCOVERY_INTERVAL": "1",
            "BOOKKEEPER_FEED_POLL_INTERVAL": "0.5",
        }
        self.procs: list[subprocess.Popen] = []
        self.metrics_ports: dict[str, int] = {}

    def account(
        self,
        devices: int = 1,
        balance: int = 1000,
        plans: dict | None = None,
        tree: list[str] | None = None,
        reseller: bool = False,
    ) -> str:
        account = provision.new_account_id()
        provision.create_account(
            self.couch,
            self.config,
            account,
            "Customer",
            tree or [self.master],
            datetime.now(UTC),
            plans={"rt": self.master} if plans is None else plans,
            reseller=reseller,
        )
        provision.fund(self.ledger, account, balance, datetime.now(UTC))
        if devices:
            provision.add_docs(self.couch, account, [{"pvt_type": "device"}] * devices, datetime.now(UTC))
        self.ids.append(account)
        return account

    def start(self, worker: str) -> subprocess.Popen:
        self.metrics_ports[worker] = free_port()
        with open(self.log_path(worker), "w") as log:  # the daemon holds its own descriptor
            proc = subprocess.Popen(
                [
                    str(BIN),
                    "run",
                    "--worker-id",
                    worker,
                    "--metrics-port",
                    str(self.metrics_ports[worker]),
                    "--hooks-port",
                    str(free_port()),
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.procs.append(proc)
        return proc

    def log_path(self, worker: str) -> str:
        return f"/tmp/{self.namespace}{worker}.log"

    def log(self, worker: str) -> str:
        return Path(self.log_path(worker)).read_text()

    def health(self, worker: str) -> dict:
        """The worker's `/health` JSON ({} while it does not answer yet)."""
        url = f"http://127.0.0.1:{self.metrics_ports[worker]}/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            return json.load(err)
        except OSError:
            return {}

    def metrics(self, worker: str) -> dict[str, float]:
        """The worker's `/metrics` samples ({} while it does not answer yet)."""
        return scrape(self.metrics_ports[worker])

    def debits(self, account: str, kind: str | None = None):
        now = datetime.now(UTC)
        return [
            e
            for e in self.ledger.entries(account, now - timedelta(days=40), now + timedelta(days=1), kind)
            if e.type == "debit"
        ]

    def quantity(self, account: str):
        doc = self.couch.db("services").get(account)
        return ((doc.get("quantities") or {}).get("account") or {}).get("devices", {}).get("sip_device")

    def remove(self):
        for account in self.ids:
            for name in (account_db(account), *self.ledger_dbs(account)):
                self.couch.db(name).delete()
        for name in ("accounts", "services", self.config.bookkeeper_db):
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
