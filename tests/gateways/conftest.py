"""A KAZOO-shaped world (master, a reseller, its customers) in a namespaced view of the test server, the hooks
app, and real local HTTP servers on 127.0.0.1 standing in for the gateways' remote APIs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from braintree.util.xml_util import XmlUtil
from worlds import NamespacedWorld, world_fixture

from bookkeeper import provision
from bookkeeper.config import Config
from bookkeeper.databases import account_databases
from bookkeeper.dbnames import account_db, modb, parse_db_name
from bookkeeper.gateways import make_app
from bookkeeper.gateways.config import save_section
from bookkeeper.ledger import Ledger
from bookkeeper.ledger.documents import info_of, is_money

NOW = datetime.now(UTC)


class World(NamespacedWorld):
    """Master -> reseller (USD) -> customers; another reseller with its own customer."""

    def __init__(self, server_url: str, config: Config):
        super().__init__(server_url, config, "g", retries=1, backoff=0.01)
        self.master = self.account("Master", [])
        self.reseller = self.account("Reseller", [self.master], reseller=True)
        self.customer = self.account("Customer", [self.master, self.reseller])
        self.other_reseller = self.account("Other", [self.master], reseller=True)
        self.stranger = self.account("Stranger", [self.master, self.other_reseller])
        provision.put_billing_settings(self.couch, self.reseller, {"currency": "USD"}, NOW)
        self.ledger = Ledger(self.couch, self.config.dialect)

    def account(self, name: str, tree: list[str], **kw) -> str:
        return self.new_account(name, tree, NOW, **kw)

    def configure(self, gateway: str, section: dict, reseller: str | None = None) -> None:
        save_section(self.couch, reseller or self.reseller, gateway, section)

    def balance(self, account_id: str) -> Decimal:
        return self.ledger.balance(account_id)

    def money_docs(self, account_id: str) -> list[dict]:
        """Every money document of the account (carry-forwards left out)."""
        docs = []
        for name in account_databases(self.couch)[1]:
            parsed = parse_db_name(name)
            if parsed is not None and parsed.account_id == account_id:
                rows = self.couch.db(name).all_docs(include_docs=True)
                docs += [
                    r["doc"]
                    for r in rows
                    if r.get("doc") and is_money(r["doc"]) and info_of(r["doc"]).get("kind") != "rollover"
                ]
        return docs

    def all_docs(self, account_id: str) -> list[str]:
        """Ids of every document in the account DB and its MODBs (what a refused request must not change)."""
        out = [r["id"] for r in self.couch.db(account_db(account_id)).all_docs()]
        year, month = NOW.year, NOW.month
        db = self.couch.db(modb(account_id, year, month))
        if db.exists():
            out += [r["id"] for r in db.all_docs()]
        return sorted(out)


world = world_fixture(World)


@pytest.fixture
def credited():
    """Accounts passed to the app's after_credit callback."""
    return []


@pytest.fixture
def client(world, credited):
    app = make_app(world.couch, world.config, credited.append, ledger=world.ledger)
    return app.test_client()


class LocalServer:
    """A real HTTP server on 127.0.0.1 (free port) whose answers come from `handle(method, path, body)`."""

    def __init__(self, handle):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.command, self.path, body, dict(self.headers)))
                status, content_type, answer = handle(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.requests: list[tuple] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PayPalVerifier:
    """PayPal's IPN verification endpoint: VERIFIED for the messages it "sent", INVALID for the rest."""

    def __init__(self):
        self.genuine: set[bytes] = set()
        self.server = LocalServer(self.handle)

    def handle(self, method, path, body):
        prefix = b"cmd=_notify-validate&"
        ok = method == "POST" and body.startswith(prefix) and body[len(prefix) :] in self.genuine
        return 200, "text/plain", b"VERIFIED" if ok else b"INVALID"


class BraintreeStub:
    """Braintree's gateway API for one merchant: transaction find, sale, credit and search by order id, XML as the
    SDK speaks it."""

    def __init__(self, merchant_id: str):
        self.merchant_id = merchant_id
        self.transactions: dict[str, dict] = {}
        self.vaulted: set[str] = set()
        self.currency = "USD"  # of the merchant account the API charges in
        self.server = LocalServer(self.handle)

    def add(
        self,
        txid: str,
        customer: str,
        amount: str,
        currency: str = "USD",
        status: str = "settled",
        type: str = "sale",
        order_id: str = "",
    ) -> None:
        self.transactions[txid] = {
            "id": txid,
            "status": status,
            "type": type,
            "amount": amount,
            "currency-iso-code": currency,
            "merchant-account-id": "acme-usd",
            "order-id": order_id,
            "customer": {"id": customer},
        }

    def made(self, type: str) -> list[dict]:
        """The transactions of this type the API created (sales or credits)."""
        return [t for t in self.transactions.values() if t["type"] == type and t["id"].startswith("bt")]

    def handle(self, method, path, body):
        base = f"/merchants/{self.merchant_id}/transactions"
        if method == "POST" and path == base + "/advanced_search_ids":
            wanted = XmlUtil.dict_from_xml(body.decode())["search"]["order_id"]["is"]
            ids = "".join(f"<item>{t['id']}</item>" for t in self.transactions.values() if t["order-id"] == wanted)
            return (
                200,
                "application/xml",
                (
                    f'<?xml version="1.0" encoding="UTF-8"?><search-results><page-size type="integer">50'
                    f'</page-size><ids type="array">{ids}</ids></search-results>'
                ).encode(),
            )
        if method == "POST" and path == base + "/advanced_search":
            ids = XmlUtil.dict_from_xml(body.decode())["search"]["ids"]
            found = "".join(_xml("transaction", self.transactions[i]).decode().split("?>", 1)[1] for i in ids)
            return (
                200,
                "application/xml",
                (
                    f'<?xml version="1.0" encoding="UTF-8"?><credit-card-transactions '
                    f'type="collection">{found}</credit-card-transactions>'
                ).encode(),
            )
        if method == "GET" and path.startswith(base + "/"):
            txn = self.transactions.get(path[len(base) + 1 :])
            if txn is None:
                return 404, "application/xml", b""
            return 200, "application/xml", _xml("transaction", txn)
        if method == "POST" and path == base:
            params = XmlUtil.dict_from_xml(body.decode())["transaction"]
            txid = f"bt{len(self.transactions) + 1}"
            customer, kind, order = params["customer_id"], params["type"], params.get("order_id") or ""
            if customer not in self.vaulted:
                self.add(txid, customer, params["amount"], status="processor_declined", type=kind, order_id=order)
                return (
                    422,
                    "application/xml",
                    _xml(
                        "api-error-response",
                        {"message": "Do Not Honor", "errors": {"errors": ""}, "transaction": self.transactions[txid]},
                    ),
                )
            self.add(
                txid,
                customer,
                params["amount"],
                self.currency,
                status="submitted_for_settlement",
                type=kind,
                order_id=order,
            )
            return 201, "application/xml", _xml("transaction", self.transactions[txid])
        return 404, "application/xml", b""


def _xml(root: str, data: dict) -> bytes:
    def inner(value) -> str:
        if isinstance(value, dict):
            return "".join(f"<{k}>{inner(v)}</{k}>" for k, v in value.items())
        return str(value)

    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{inner(data)}</{root}>'.encode()


@pytest.fixture
def paypal():
    verifier = PayPalVerifier()
    yield verifier
    verifier.server.close()


@pytest.fixture
def braintree_api():
    stub = BraintreeStub("acme")
    yield stub
    stub.server.close()
