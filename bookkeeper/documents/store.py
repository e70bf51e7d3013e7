"""Invoices as CouchDB documents: generated from the ledger, numbered, stored with their PDF, listed, mailed.

One invoice per account and billing period: `YYYYMM-invoice-<period start>` (`pvt_type: bookkeeper_invoice`) in
the MODB of the period's start, with `invoice.pdf`, `usage.csv` and `usage.png` (the daily quantities per item) as
attachments written in the same request as the document. Its issue date is the day the period closed and its number
is taken once (numbering.py): generating the period again replaces the statement and the PDF, never the number, the
issue date or the mail marker.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..accounts import CONFIG_DOC, Directory, master_account_id
from ..clock import Period, local_date, period_containing
from ..couch import Couch, CouchError, Database
from ..dbnames import account_db, from_gregorian, modb, modb_prefix, to_gregorian
from ..errors import BookkeeperError
from ..ledger import Ledger
from ..settings import BillingSettings
from . import mail, numbering
from .charts import usage_chart
from .parties import InvoiceSettings, customer, invoice_settings
from .pdf import render_invoice
from .statement import Statement, build_statement
from .usage import usage_report

log = logging.getLogger(__name__)

INVOICE_TYPE = "bookkeeper_invoice"
PDF_NAME = "invoice.pdf"
USAGE_NAME = "usage.csv"
CHART_NAME = "usage.png"
LOOKBACK = 3
ONE_SECOND = timedelta(seconds=1)


class PeriodNotClosed(BookkeeperError):
    """An invoice was asked for a period that has not ended yet."""


class PeriodBeforeAccount(BookkeeperError):
    """An invoice was asked for a period that ended before the account was created."""


class InvoiceNotFound(BookkeeperError):
    """No invoice with that id or number for the account."""


def _created(account: dict) -> datetime | None:
    created = account.get("pvt_created")
    return from_gregorian(created) if isinstance(created, int) and created > 0 else None


def invoice_id(period: Period) -> str:
    start = period.start_date
    return f"{modb_prefix(start.year, start.month)}invoice-{start.isoformat()}"


def invoice_db(account_id: str, period: Period) -> str:
    return modb(account_id, period.start_date.year, period.start_date.month)


def summary(doc: dict) -> dict:
    """What `invoices list` shows of an invoice document."""
    totals = doc.get("statement", {})
    return {
        "id": doc["_id"],
        "number": doc.get("number"),
        "issued": doc.get("issued"),
        "period_start": totals.get("period", {}).get("start", "")[:10],
        "period_end": doc.get("period_end"),
        "currency": totals.get("currency"),
        "total": totals.get("total", totals.get("vat", {}).get("gross")),
        "closing": totals.get("closing"),
        "mailed": bool(doc.get("mail", {}).get("sent_at")),
    }


@dataclass
class Invoices:
    """Generates and reads one deployment's invoices. `directory` finds accounts, resellers and settings."""

    couch: Couch
    ledger: Ledger
    directory: Directory

    # -- settings of the account's reseller
    def context(self, account_id: str) -> tuple[dict, str, BillingSettings, InvoiceSettings]:
        """(account doc, reseller id, its settings, its invoice settings)."""
        account = self.directory.account(account_id)
        reseller = self.directory.reseller_of(account)
        billing_settings = self.directory.reseller_settings(reseller)
        issuer = invoice_settings(billing_settings.invoice, f"{account_db(reseller)}/{CONFIG_DOC}")
        return account.doc, reseller, billing_settings, issuer

    def period(self, account_id: str, moment: datetime) -> Period:
        """The account's billing period containing `moment`."""
        _, _, billing_settings, _ = self.context(account_id)
        return period_containing(moment, billing_settings.billing_day, billing_settings.timezone)

    def closed_periods(self, account_id: str, now: datetime, lookback: int = LOOKBACK) -> list[Period]:
        """The last `lookback` periods that ended by `now`, oldest first, none before the account was created."""
        account, _, billing_settings, _ = self.context(account_id)
        born = _created(account)
        out, current = [], period_containing(now, billing_settings.billing_day, billing_settings.timezone)
        for _ in range(lookback):
            current = period_containing(
                current.start - ONE_SECOND, billing_settings.billing_day, billing_settings.timezone
            )
            if born is not None and current.end <= born:
                break
            out.append(current)
        return out[::-1]

    # -- generating
    def statement(
        self, account_id: str, period: Period, billing_settings: BillingSettings, locale: str, entries=None
    ) -> Statement:
        """The period's statement from the ledger: its entries and its balances just before start and end."""
        entries = self.ledger.entries(account_id, period.start, period.end) if entries is None else entries
        return build_statement(
            entries,
            account_id=account_id,
            period=period,
            currency=billing_settings.currency,
            opening=self.ledger.balance(account_id, at=period.start - ONE_SECOND),
            closing=self.ledger.balance(account_id, at=period.end - ONE_SECOND),
            vat_rate=billing_settings.vat_rate,
            vat_disposition=billing_settings.vat_disposition,
            locale=locale,
        )

    def generate(self, account_id: str, period: Period, now: datetime) -> dict:
        """Generate (or generate again) the account's invoice for a closed `period`; the saved document."""
        if now < period.end:
            raise PeriodNotClosed(
                f"account {account_id}: the period {period.start_date} .. {period.last_date} "
                f"has not ended yet (it ends {period.end.isoformat()})"
            )
        account, reseller, billing_settings, issuer = self.context(account_id)
        born = _created(account)
        if born is not None and period.end <= born:
            raise PeriodBeforeAccount(
                f"account {account_id} was created on {born.date()}: it has no billing period "
                f"{period.start_date} .. {period.last_date}"
            )
        entries = self.ledger.entries(account_id, period.start, period.end)
        statement = self.statement(account_id, period, billing_settings, issuer.locale, entries)
        db = self.couch.db(invoice_db(account_id, period))
        if not db.exists():  # a month without entries: its MODB is opened by the ledger, with its carry-forward
            self.ledger.ensure_rollover(account_id, period.start_date.year, period.start_date.month)
        doc_id, issued = invoice_id(period), local_date(period.end, billing_settings.timezone)
        counter_db, claimant = self.couch.db(account_db(reseller)), f"{account_id}/{doc_id}"
        existing = db.get_or_none(doc_id) or {}
        number = existing.get("number") or numbering.format_number(
            issuer.number_prefix, issued.year, numbering.claim(counter_db, issued.year, claimant)
        )
        pdf = render_invoice(
            statement,
            number=number,
            issued=issued,
            issuer=issuer,
            customer=customer(account),
            logo=self.logo(reseller, issuer),
        )
        report = usage_report(entries, period)
        chart = usage_chart(report, f"{customer(account).name}: usage {period.start_date} .. {period.last_date}")
        doc = self._save(db, doc_id, number, issued, statement, reseller, now, pdf, report.csv().encode(), chart)
        numbering.release(counter_db, issued.year, claimant)
        log.info("invoice %s for %s, period %s, saved as %s/%s", number, account_id, period.start_date, db.name, doc_id)
        return doc

    def _save(
        self,
        db: Database,
        doc_id: str,
        number: str,
        issued: date,
        statement: Statement,
        reseller: str,
        now: datetime,
        pdf: bytes,
        usage: bytes,
        chart: bytes,
    ) -> dict:
        attachments = {
            PDF_NAME: {"content_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
            USAGE_NAME: {"content_type": "text/csv", "data": base64.b64encode(usage).decode()},
            CHART_NAME: {"content_type": "image/png", "data": base64.b64encode(chart).decode()},
        }

        def change(existing: dict | None) -> dict:
            existing = existing or {}
            doc = {
                "pvt_type": INVOICE_TYPE,
                "pvt_account_id": statement.account_id,
                "pvt_account_db": db.name,
                "pvt_reseller_id": reseller,
                "number": existing.get("number", number),
                "issued": existing.get("issued", issued.isoformat()),
                "period_end": statement.period.last_date.isoformat(),
                "statement": statement.to_doc(),
                "generated_at": now.isoformat(),
                "pvt_created": existing.get("pvt_created", to_gregorian(now)),
                "pvt_modified": to_gregorian(now),
                "_attachments": attachments,
            }
            if existing:
                doc["generations"] = existing.get("generations", 1) + 1
            if "mail" in existing:
                doc["mail"] = existing["mail"]
            return doc

        written = db.update(doc_id, change)
        assert written is not None  # `change` always returns a document
        return {k: v for k, v in written.items() if k != "_attachments"}

    def logo(self, reseller: str, issuer: InvoiceSettings) -> bytes | None:
        """The logo attachment of the reseller's `configs_bookkeeper`, else of the master's; None if neither."""
        for owner in dict.fromkeys([reseller, self.directory.master_id]):
            db = self.couch.db(account_db(owner))
            config = db.get_or_none(CONFIG_DOC) or {}
            if issuer.logo in (config.get("_attachments") or {}):
                return db.get_attachment(CONFIG_DOC, issuer.logo)
        return None

    # -- reading
    def issued(self, account_id: str) -> list[dict]:
        """Every invoice of the account, oldest period first."""
        docs = []
        for year, month in self.ledger.months(account_id):
            start = f"{modb_prefix(year, month)}invoice-"
            rows = self.couch.db(modb(account_id, year, month)).all_docs(
                include_docs=True, startkey=start, endkey=start + "\ufff0"
            )
            docs += [r["doc"] for r in rows if r.get("doc", {}).get("pvt_type") == INVOICE_TYPE]
        return docs

    def find(self, account_id: str, ref: str) -> dict:
        """An invoice by id or number."""
        for doc in self.issued(account_id):
            if ref in (doc["_id"], doc.get("number")):
                return doc
        raise InvoiceNotFound(f"account {account_id}: no invoice {ref!r} (see `bookkeeper invoices list`)")

    def pdf(self, account_id: str, ref: str) -> bytes:
        doc = self.find(account_id, ref)
        return self.couch.db(doc["pvt_account_db"]).get_attachment(doc["_id"], PDF_NAME)

    # -- mail
    def mail(self, account_id: str, doc: dict, now: datetime) -> list[str] | None:
        """Mail the invoice to the account's admins if the reseller wants it and it was not sent yet; the
        addresses it went to, else None."""
        account, _, _, issuer = self.context(account_id)
        if not issuer.mail or doc.get("mail", {}).get("sent_at"):
            return None
        return mail.deliver(self.couch, account_id, doc, issuer, customer(account), now)


def generate_due(
    couch: Couch,
    ledger,
    now: datetime,
    owns: Callable[[str], bool] = lambda a: True,
    *,
    directory: Directory | None = None,
    lookback: int = LOOKBACK,
) -> list[dict]:
    """The scheduler's job: each owned account's closed periods (the last `lookback`) that have ledger entries but
    no invoice get one; invoices not mailed yet are mailed (where the reseller wants mail). One result per
    account and period acted on: `{account, period, id, number, generated, mailed}` or `{..., error}`."""
    directory = directory or Directory(couch, master_account_id(couch), getattr(ledger, "dialect", "4.3"))
    invoices = Invoices(couch, ledger, directory)
    results: list[dict[str, Any]] = []
    for account_id in directory.all_account_ids():
        if not owns(account_id):
            continue
        try:
            periods = invoices.closed_periods(account_id, now, lookback)
        except BookkeeperError as exc:
            log.error("invoices for %s: %s", account_id, exc)
            results.append({"account": account_id, "error": str(exc)})
            continue
        for period in periods:
            result: dict[str, Any] = {"account": account_id, "period": period.start_date.isoformat()}
            try:
                doc = couch.db(invoice_db(account_id, period)).get_or_none(invoice_id(period))
                generated = False
                if doc is None:
                    entries = ledger.entries(account_id, period.start, period.end)
                    if all(e.kind == "rollover" for e in entries):
                        continue
                    doc, generated = invoices.generate(account_id, period, now), True
                mailed = invoices.mail(account_id, doc, now)
            except (BookkeeperError, CouchError) as exc:
                log.error("invoice of %s for the period from %s: %s", account_id, period.start_date, exc)
                results.append({**result, "error": str(exc)})
                continue
            if generated or mailed:
                results.append(
                    {
                        **result,
                        "id": doc["_id"],
                        "number": doc["number"],
                        "generated": generated,
                        "mailed": mailed or [],
                    }
                )
    return results
