"""A reseller world on the real test server for the invoice tests: namespaced shared databases, a master with
invoice settings and a logo, customers with admin users, and January 2024 charged through the real Ledger."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw
from worlds import NamespacedWorld, world_fixture

from bookkeeper import provision
from bookkeeper.accounts import CONFIG_DOC, Directory
from bookkeeper.charging.model import Charge
from bookkeeper.charging.vat import with_vat
from bookkeeper.clock import SimulatedClock, period_containing
from bookkeeper.config import Config
from bookkeeper.dbnames import account_db
from bookkeeper.ledger import Ledger
from bookkeeper.money import round_money
from bookkeeper.settings import billing_settings_from_doc

CREATED = datetime(2023, 11, 20, tzinfo=UTC)
JANUARY = period_containing(datetime(2024, 1, 15, tzinfo=UTC), 1, "UTC")
NOW = datetime(2024, 2, 2, 3, 0, tzinfo=UTC)
TRUNK_RATE = Decimal("15.50")


def logo_png() -> bytes:
    image = Image.new("RGB", (480, 140), "#1f3b5a")
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, 124, 124), fill="#e8b04a")
    draw.rectangle((150, 58, 440, 82), fill="#e8b04a")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class World(NamespacedWorld):
    """A master (the reseller of its customers) and customers; removes every database it made."""

    def __init__(self, server_url: str, config: Config):
        super().__init__(server_url, config, "d")
        self.master = self.account("Potato Telecom")
        self.ledger = Ledger(self.couch, "4.3", clock=SimulatedClock(datetime(2024, 3, 15, tzinfo=UTC)))
        self.directory = Directory(self.couch, self.master)

    def account(self, name: str, tree: list[str] | None = None, **doc) -> str:
        account_id = self.new_account(name, tree or [], CREATED)
        if doc:
            for db in (self.couch.db("accounts"), self.couch.db(account_db(account_id))):
                db.put({**db.get(account_id), **doc})
        return account_id

    def configure(self, smtp_port: int | None = None, **invoice) -> None:
        values: dict[str, Any] = {
            "currency": "EUR",
            "vat_rate": 20,
            "vat_disposition": "netto",
            "invoice": {
                "company_name": "Potato Telecom GmbH",
                "address": ["Hauptstraße 1", "10115 Berlin", "Germany"],
                "vat_id": "DE123456789",
                "number_prefix": "PT",
                "footer": "Potato Telecom GmbH · IBAN DE89 3704 0044 0532 0130 00 · Thank you",
                "locale": "de_DE",
                **invoice,
            },
        }
        if smtp_port is not None:
            values["invoice"].update(
                {
                    "mail": True,
                    "from": "billing@potato.example",
                    "smtp": {
                        "host": "127.0.0.1",
                        "port": smtp_port,
                        "user": "billing",
                        "password": "s3cret-never-logged",
                    },
                }
            )
        db = self.couch.db(account_db(self.master))
        existing = db.get_or_none(CONFIG_DOC)
        if existing:
            db.put({**values, "_id": CONFIG_DOC, "_rev": existing["_rev"]})
        else:
            provision.put_billing_settings(self.couch, self.master, values, CREATED)
        doc = db.get(CONFIG_DOC)
        if "logo.png" not in (doc.get("_attachments") or {}):
            db.put_attachment(CONFIG_DOC, doc["_rev"], "logo.png", logo_png(), "image/png")
        self.directory.forget()

    def customer(self, name: str, admins: tuple[str, ...] = (), **doc) -> str:
        account_id = self.account(name, [self.master], **doc)
        users = [{"pvt_type": "user", "priv_level": "admin", "email": a, "username": a} for a in admins]
        users.append({"pvt_type": "user", "priv_level": "user", "email": f"staff@{name.lower()}.example"})
        provision.add_docs(self.couch, account_id, users, CREATED)
        return account_id

    def charge_january(self, account_id: str, trunks_from_day6: int = 3) -> None:
        """Opening credit 100.00 (December); January: MRC 2 × 10.00, a third device on day 10 (prorated 22/31),
        its activation 5.00, daily fees for trunks at 15.50 (2 on days 1–5, then `trunks_from_day6`), a payment
        of 50.00 on day 20; each charge followed by its 20% VAT entry, as the engine writes them (netto)."""
        p, n = JANUARY, JANUARY.days
        self.ledger.credit(
            account_id,
            Decimal("100.00"),
            "EUR",
            kind="payment",
            reason="wire_transfer",
            description="Opening deposit",
            at=datetime(2023, 12, 5, tzinfo=UTC),
        )

        def charge(kind, item, day, amount, quantity, rate, factor, level=None, category="devices"):
            key = f"{account_id}/{p.date_of_day(day)}/{kind}/{category}/{item}" + (f"/{level}" if level else "")
            return Charge(
                key,
                account_id,
                "debit",
                kind,
                category,
                item,
                quantity,
                Decimal(rate),
                Decimal(amount),
                "EUR",
                factor,
                p.start,
                p.end,
                day,
                f"{kind} {item}",
            )

        def write(charges, at):
            self.ledger.write_charges(account_id, with_vat(charges, billing_settings), "EUR", at)

        billing_settings = billing_settings_from_doc({"currency": "EUR", "vat_rate": 20})

        at = lambda day: p.start + timedelta(days=day - 1, hours=1)  # noqa: E731
        write([charge("mrc", "sip_device", 1, "20.00", 2, "10.00", "31/31")], at(1))
        write(
            [
                charge("prorate", "sip_device", 10, "7.10", 3, "10.00", "22/31", level="30.00"),
                charge("activation", "sip_device", 10, "5.00", 1, "5.00", "1", level="3"),
            ],
            at(10),
        )
        for k in range(1, n + 1):
            q = 2 if k <= 5 else trunks_from_day6
            total = q * TRUNK_RATE
            fee = round_money(total * k / n, "EUR") - round_money(total * (k - 1) / n, "EUR")
            write([charge("daily", "outbound_trunks", k, str(fee), q, TRUNK_RATE, f"1/{n}", category="limits")], at(k))
        self.ledger.credit(
            account_id,
            Decimal("50.00"),
            "EUR",
            kind="payment",
            reason="wire_transfer",
            description="Bank transfer 4711",
            at=at(20),
            key=f"{account_id}/wire/4711",
        )


world = world_fixture(World)
