"""The AMQP tests' world and KAZOO-shaped requests: master -> reseller (USD, plan `rt`) -> customers, and requests
built from `kapi_bookkeepers`' field lists as KAZOO 4.3 sends them (kz_services_*, kz_transaction)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from waiting import wait_until
from worlds import NamespacedWorld

from bookkeeper import plans, provision
from bookkeeper.amqp import protocol
from bookkeeper.amqp.broker import INSTALL_HINT, installed
from bookkeeper.billing import BillingEngine
from bookkeeper.clock import SystemClock
from bookkeeper.config import Config
from bookkeeper.dbnames import account_db, encode, modb, to_gregorian
from bookkeeper.embedded import free_port
from bookkeeper.gateways.config import save_section
from bookkeeper.ledger import Ledger
from feeds.metrics import scrape

OURS = "couch_bookkeeper"
BIN = Path(sys.executable).parent / "bookkeeper"
PLAN = {"name": "AMQP", "plan": {"devices": {"sip_device": {"rate": 30, "activation_charge": 2}}}}
BRAINTREE = {"merchant_id": "acme", "public_key": "pub_key", "private_key": "priv_key"}


def require_broker() -> None:
    if not installed():
        message = f"RabbitMQ is not installed: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class World(NamespacedWorld):
    """Master -> reseller (USD, plan `rt`: devices 30.00 a month, activation 2.00, Braintree) -> customers."""

    def __init__(self, server_url: str, config: Config):
        super().__init__(server_url, config, "q")
        now = datetime.now(UTC)
        self.master = self.new_account("Master", [], now)
        self.reseller = self.new_account("Reseller", [self.master], now, reseller=True)
        provision.put_billing_settings(self.couch, self.reseller, {"currency": "USD"}, now)
        provision.put_plan(self.couch, self.reseller, "rt", PLAN, now)
        self.engine = BillingEngine(self.couch, self.config, SystemClock())
        self.ledger: Ledger = self.engine.ledger

    def customer(self, balance: int | str = 0, devices: int = 0) -> str:
        """A customer on plan `rt` with `balance` credited and `devices`, evaluated once (its MRC charged)."""
        now = datetime.now(UTC)
        account = self.new_account("Customer", [self.master, self.reseller], now, plans={"rt": self.reseller})
        self.fund(account, balance)
        self.add_devices(account, devices)
        self.engine.evaluate(account)
        return account

    def fund(self, account: str, balance: int | str) -> None:
        """`balance` credited to the account (once: the credit's key is the account's)."""
        provision.fund(self.ledger, account, balance, datetime.now(UTC))

    def add_devices(self, account: str, n: int) -> None:
        if n:
            provision.add_docs(self.couch, account, [{"pvt_type": "device"}] * n, datetime.now(UTC))

    def debits(self, account: str, kind: str | None = None) -> list:
        now = datetime.now(UTC)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return [
            e for e in self.ledger.entries(account, start, now.replace(year=now.year + 1), kind) if e.type == "debit"
        ]

    def every_doc(self, account: str) -> list[tuple[str, str]]:
        """(id, rev) of every document in the account's DB and current MODB: what must not change."""
        now = datetime.now(UTC)
        out = []
        for name in (account_db(account), modb(account, now.year, now.month)):
            db = self.couch.db(name)
            if db.exists():
                out += [(r["id"], r["value"]["rev"]) for r in db.all_docs()]
        return sorted(out)

    def switch_bookkeeper(self, bookkeeper_type: str) -> None:
        """The reseller's plan `rt` names `bookkeeper_type` as its bookkeeper, as an operator switches in KAZOO."""
        db = self.couch.db(account_db(self.reseller))
        doc = db.get("rt")
        doc["bookkeeper"] = {"type": bookkeeper_type, "id": f"{bookkeeper_type}-books", "vendor_id": self.reseller}
        db.put(doc)

    def state(self, account: str) -> dict:
        """The account's billing state as the daemon saved it."""
        return self.couch.db(self.config.bookkeeper_db).get(f"billing_state:{account}")["state"]

    def counted(self, account: str) -> int | None:
        """The devices the last evaluation counted (the services doc's `quantities.account`)."""
        quantities = self.couch.db("services").get(account).get("quantities") or {}
        return ((quantities.get("account") or {}).get("devices") or {}).get("sip_device")

    def configure_braintree(self, url: str) -> None:
        save_section(self.couch, self.reseller, "braintree", {**BRAINTREE, "environment": url})


class Daemon:
    """`bookkeeper run` as a real process on `world`'s databases with `BOOKKEEPER_AMQP_URL` set to `broker`; its log
    in `log_dir`."""

    def __init__(self, world: World, broker, log_dir: Path):
        self.metrics_port = free_port()
        env = {
            **os.environ,
            "BOOKKEEPER_COUCH_URL": world.url,
            "BOOKKEEPER_NAMESPACE": world.namespace,
            "BOOKKEEPER_MASTER_ACCOUNT": world.master,
            "BOOKKEEPER_BOOKKEEPER_DB": world.config.bookkeeper_db,
            "BOOKKEEPER_AMQP_URL": broker.url,
            "BOOKKEEPER_FEED_DISCOVERY_INTERVAL": "1",
            "BOOKKEEPER_FEED_POLL_INTERVAL": "0.5",
        }
        self.log_path = log_dir / "daemon.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed by stop())
        command = ["run", "--worker-id", "w1", "--metrics-port", str(self.metrics_port)]
        self.process = subprocess.Popen(
            [str(BIN), *command, "--hooks-port", str(free_port())], env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )

    def metric(self, name: str) -> float:
        """`bookkeeper_<name>` from its `/metrics` (0 while it does not answer or has no such series yet)."""
        return scrape(self.metrics_port).get(f"bookkeeper_{name}", 0)

    def logged(self) -> str:
        """What the daemon logged so far (for an assertion's message)."""
        return self.log_path.read_text()

    def wait_connected(self) -> None:
        wait_until(lambda: self.metric("amqp_connections_total") >= 1, 60, what="the daemon's first connection")

    def stop(self) -> None:
        """SIGTERM; it must exit 0 within 30 s."""
        self.process.send_signal(signal.SIGTERM)
        try:
            assert self.process.wait(30) == 0
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.log.close()


# -- requests as KAZOO 4.3 builds them (kapi_bookkeepers field lists; kz_services_*, kz_transaction)
def bookkeeper_id(world, account: str) -> str:
    """KAZOO's invoice id: md5 of plan id, type and vendor (docs/kazoo.md)."""
    return hashlib.md5(f"rt{OURS}{world.reseller}".encode()).hexdigest()


def standing_req(world, account: str, withdrawal_units: int, bookkeeper_type: str = OURS) -> dict:
    return {
        "Account-ID": account,
        "Bookkeeper-ID": bookkeeper_id(world, account),
        "Bookkeeper-Type": bookkeeper_type,
        "Vendor-ID": world.reseller,
        "Items": [],
        "Estimated-Withdrawal": withdrawal_units,
        "Call-ID": secrets.token_hex(8),
    }


def kazoo_invoice(devices: int, before: int) -> dict:
    """`kz_services_invoice:public_json/1` without `plan`, as KAZOO's JSON encoder writes it."""
    invoice = plans.quote(
        [plans.load_plan(PLAN, where="rt")],
        {"devices": {"sip_device": devices}},
        current={"devices": {"sip_device": before}},
    )
    invoice.pop("plan")
    invoice["bookkeeper"] = {"type": OURS, "vendor_id": "", "id": ""}
    return json.loads(protocol.encode(invoice))


def update_req(world, account: str, devices: int, before: int, dry_run: bool | None = None) -> dict:
    fields = {
        "Account-ID": account,
        "Bookkeeper-ID": bookkeeper_id(world, account),
        "Bookkeeper-Type": OURS,
        "Vendor-ID": world.reseller,
        "Invoice": kazoo_invoice(devices, before),
        "Call-ID": secrets.token_hex(8),
        "Audit-Log": {"audit": {"account": {"id": account}}},
    }
    if dry_run is not None:
        fields["Dry-Run"] = dry_run
    return fields


def transaction_req(world, account: str, units: int, transaction_id: str | None = None) -> dict:
    now = datetime.now(UTC)
    return {
        "Bookkeeper-Type": OURS,
        "Vendor-ID": world.reseller,
        "Account-ID": account,
        "Transaction-ID": transaction_id or f"{now:%Y%m}-{secrets.token_hex(16)}",
        "Transaction-DB": encode(modb(account, now.year, now.month)),
        "Amount": units,
    }


def collect_recurring_req(world, account: str, due: datetime) -> dict:
    return {
        "Account-ID": account,
        "Bookkeeper-ID": bookkeeper_id(world, account),
        "Bookkeeper-Type": OURS,
        "Due-Timestamp": to_gregorian(due),
        "Vendor-ID": world.reseller,
    }


def check_headers(reply: dict, request: dict, kind: str) -> None:
    """The reply carries the request's Msg-ID and KAZOO's default headers, and passes `<kind>_resp_v`."""
    assert reply["Msg-ID"] == request["Msg-ID"]
    assert reply["Event-Category"] == "bookkeepers" and reply["Event-Name"] == f"{kind}_resp"
    assert reply["App-Name"] == "couch-bookkeeper" and reply["App-Version"] and reply["Node"]
    for name in protocol.RESPONSE_REQUIRED[kind]:
        assert reply.get(name) not in (None, ""), name
    allowed = (
        set(protocol.DEFAULT_HEADERS) | set(protocol.RESPONSE_REQUIRED[kind]) | set(protocol.RESPONSE_OPTIONAL[kind])
    )
    assert set(reply) <= allowed, set(reply) - allowed
