"""Invoices end to end on the real test server: ledger → statement → PDF → attachment → number → mail."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pypdf import PdfReader

from bookkeeper.dbnames import account_db, encode, modb
from bookkeeper.documents import Invoices, generate_due
from bookkeeper.documents.numbering import counter_id
from bookkeeper.documents.store import PeriodNotClosed
from bookkeeper.embedded import free_port

from .conftest import JANUARY, NOW


def pdf_text(data: bytes) -> str:
    """The text of every page, white space collapsed (so wrapped table cells read as one line)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


class Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives and the logins it saw."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.controller = Controller(
            self, hostname="127.0.0.1", port=free_port(), auth_require_tls=False, authenticator=self.authenticate
        )

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


def test_invoice_reconciles_and_its_pdf_is_an_attachment_readable_over_http(world):
    world.configure()
    customer = world.customer(
        "Acme",
        contact={
            "billing": {
                "street_address": "1 Main St",
                "postal_code": "12345",
                "locality": "Springfield",
                "country": "US",
            }
        },
    )
    world.charge_january(customer)
    invoices = Invoices(world.couch, world.ledger, world.directory)

    doc = invoices.generate(customer, JANUARY, NOW)

    assert doc["_id"] == "202401-invoice-2024-01-01" and doc["pvt_type"] == "bookkeeper_invoice"
    assert doc["number"] == "PT-2024-000001" and doc["issued"] == "2024-02-01"
    st = doc["statement"]
    # the balance paid the VAT: 76.10 net + 15.22 VAT entries
    assert (st["opening"], st["debits"], st["credits"], st["closing"]) == ("100.00", "91.32", "50.00", "58.68")
    assert st["vat"] == {"rate": "20", "disposition": "netto", "net": "76.10", "vat": "15.22", "gross": "91.32"}
    assert [(line["kind"], line["amount"]) for line in st["services"]] == [
        ("mrc", "20.00"),
        ("prorate", "7.10"),
        ("activation", "5.00"),
        ("daily", "5.00"),
        ("daily", "39.00"),
    ]

    url = f"{world.url}/{encode(modb(customer, 2024, 1))}/{doc['_id']}/invoice.pdf"
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/pdf")
    text = pdf_text(resp.content)
    for expected in (
        "PT-2024-000001",
        "Potato Telecom GmbH",
        "DE123456789",
        "Acme",
        "1 Main St",
        "2024-01-01 – 2024-01-31",
        "Monthly fee: devices / sip_device",
        "2 × 10,00 €/month",
        "20,00 €",
        "Prorated addition: devices / sip_device",
        "22 of 31 days",
        "7,10 €",
        "Activation: devices / sip_device",
        "5,00 €",
        "Daily fee: limits / outbound_trunks",
        "5 days × 2 × 15,50 €/month ÷ 31",
        "26 days × 3 × 15,50 €/month ÷ 31",
        "39,00 €",
        "Payment: Bank transfer 4711",
        "50,00 €",
        "Subtotal (net)",
        "76,10 €",
        "VAT 20%",
        "15,22 €",
        "Total",
        "91,32 €",
        "Opening balance",
        "100,00 €",
        "Closing balance",
        "58,68 €",
    ):
        assert expected in text, expected
    usage = world.couch.db(modb(customer, 2024, 1)).get_attachment(doc["_id"], "usage.csv").decode()
    assert "2024-01-10,devices,sip_device,3" in usage and "2024-01-05,limits,outbound_trunks,2" in usage

    assert [d["number"] for d in invoices.issued(customer)] == ["PT-2024-000001"]
    assert invoices.pdf(customer, "PT-2024-000001")[:5] == b"%PDF-"


@pytest.mark.slow
def test_regenerating_replaces_the_pdf_but_never_the_number(world):
    world.configure()
    first, second = world.customer("Acme"), world.customer("Beta")
    world.charge_january(first)
    world.charge_january(second)
    invoices = Invoices(world.couch, world.ledger, world.directory)
    one = invoices.generate(first, JANUARY, NOW)
    world.configure(footer="A new footer")
    again = invoices.generate(first, JANUARY, datetime(2024, 5, 1, tzinfo=UTC))
    other = invoices.generate(second, JANUARY, NOW)
    assert (one["number"], again["number"], other["number"]) == ("PT-2024-000001", "PT-2024-000001", "PT-2024-000002")
    assert again["issued"] == "2024-02-01" and again["generations"] == 2
    assert "A new footer" in pdf_text(invoices.pdf(first, again["_id"]))
    counter = world.couch.db(account_db(world.master)).get(counter_id(2024))
    assert (counter["last"], counter["pending"]) == (2, {})


def test_an_open_period_is_refused(world):
    world.configure()
    customer = world.customer("Acme")
    with pytest.raises(PeriodNotClosed):
        Invoices(world.couch, world.ledger, world.directory).generate(
            customer, JANUARY, datetime(2024, 1, 31, 23, tzinfo=UTC)
        )


@pytest.mark.slow
def test_concurrent_generations_for_one_reseller_get_consecutive_numbers(world):
    world.configure()
    customers = [world.customer(f"C{i}") for i in range(4)]
    for c in customers:
        world.charge_january(c)
    numbers, errors = {}, []

    def generate(account_id):
        try:
            numbers[account_id] = Invoices(world.couch, world.ledger, world.directory).generate(
                account_id, JANUARY, NOW
            )["number"]
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=generate, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers.values()) == [f"PT-2024-{n:06d}" for n in range(1, 5)]


@pytest.mark.slow
def test_a_claimed_number_survives_a_crash_before_the_invoice_was_saved(world):
    from bookkeeper.documents import numbering

    world.configure()
    customer = world.customer("Acme")
    world.charge_january(customer)
    db = world.couch.db(account_db(world.master))
    assert numbering.claim(db, 2024, f"{customer}/202401-invoice-2024-01-01") == 1  # then the process died
    doc = Invoices(world.couch, world.ledger, world.directory).generate(customer, JANUARY, NOW)
    assert doc["number"] == "PT-2024-000001"
    assert db.get(counter_id(2024))["pending"] == {}


@pytest.mark.slow
def test_generate_due_mails_admins_once_and_retries_after_a_failure(world, inbox, caplog):
    dead_port = free_port()
    world.configure(smtp_port=dead_port)
    customer = world.customer("Acme", admins=("ann@acme.example", "bob@acme.example"))
    quiet = world.customer("Quiet", admins=("q@quiet.example",))
    world.charge_january(customer)

    failed = generate_due(world.couch, world.ledger, NOW, directory=world.directory)
    # December holds the opening deposit, January the charges: both periods get an invoice, oldest first
    assert [(r["account"], r["period"]) for r in failed] == [(customer, "2023-12-01"), (customer, "2024-01-01")]
    assert all("SMTP 127.0.0.1" in r["error"] for r in failed)
    doc = world.couch.db(modb(customer, 2024, 1)).get("202401-invoice-2024-01-01")
    assert doc["number"] == "PT-2024-000002" and "error" in doc["mail"]

    world.configure(smtp_port=inbox.controller.port)
    done = generate_due(world.couch, world.ledger, NOW, directory=world.directory)
    admins = ["ann@acme.example", "bob@acme.example"]
    assert done == [
        {
            "account": customer,
            "period": "2023-12-01",
            "id": "202312-invoice-2023-12-01",
            "number": "PT-2024-000001",
            "generated": False,
            "mailed": admins,
        },
        {
            "account": customer,
            "period": "2024-01-01",
            "id": "202401-invoice-2024-01-01",
            "number": "PT-2024-000002",
            "generated": False,
            "mailed": admins,
        },
    ]
    assert generate_due(world.couch, world.ledger, NOW, directory=world.directory) == []
    assert len(inbox.messages) == 2
    to, content = inbox.messages[1]
    assert to == admins
    assert b"Subject: Invoice PT-2024-000002 from Potato Telecom GmbH" in content
    assert b"PT-2024-000002.pdf" in content
    assert inbox.logins == [(b"billing", b"s3cret-never-logged")] * 2
    assert "s3cret" not in caplog.text
    assert world.couch.db(modb(quiet, 2024, 1)).get_or_none("202401-invoice-2024-01-01") is None
