"""Mailing an invoice to the account's administrators over the reseller's SMTP server (smtplib).

Recipients: the `email` (else an e-mail-shaped `username`) of the enabled `pvt_type: user` documents with
`priv_level: admin` in the account DB. Once the server accepted the message, `mail.sent_at` and `mail.to` are
written on the invoice document, and it is never sent again. A failure is recorded as `mail.error` and the next
run tries again. The SMTP password is never logged or stored elsewhere.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..couch import Couch, Database, NotFound
from ..dbnames import account_db
from ..errors import BookkeeperError
from .parties import Customer, InvoiceSettings, SmtpSettings

log = logging.getLogger(__name__)
PDF_NAME = "invoice.pdf"


class MailError(BookkeeperError):
    """The SMTP server could not be reached or refused the message."""


def admin_emails(couch: Couch, account_id: str) -> list[str]:
    """The e-mail addresses of the account's enabled admin users, sorted, each once."""
    users = couch.db(account_db(account_id)).find({"pvt_type": "user", "priv_level": "admin"})
    out = set()
    for user in users:
        if user.get("pvt_deleted") or user.get("enabled") is False:
            continue
        address = user.get("email") or user.get("username") or ""
        if isinstance(address, str) and "@" in address.strip():
            out.add(address.strip())
    return sorted(out)


def message(doc: dict, pdf: bytes, issuer: InvoiceSettings, customer: Customer, to: list[str]) -> EmailMessage:
    """The invoice e-mail: a short text and the PDF."""
    period = doc["statement"]["period"]
    total = doc["statement"].get("total", doc["statement"]["vat"]["gross"])
    msg = EmailMessage()
    msg["Subject"] = f"Invoice {doc['number']} from {issuer.company_name or 'your provider'}"
    msg["From"] = issuer.sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=doc["number"])
    msg.set_content(
        f"Hello {customer.name},\n\nplease find attached invoice {doc['number']} for the period "
        f"{period['start'][:10]} to {doc['period_end']}, total {total} {doc['statement']['currency']}.\n\n"
        f"{issuer.footer}\n".rstrip()
        + "\n"
    )
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{doc['number']}.pdf")
    return msg


def send(smtp: SmtpSettings, msg: EmailMessage) -> None:
    """Hand `msg` to the SMTP server; MailError if it cannot be delivered there."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.user:
                server.login(smtp.user, smtp.password or "")
            server.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {smtp.host}:{smtp.port}: {exc.__class__.__name__}: {exc}") from None


def deliver(
    couch: Couch, account_id: str, doc: dict, issuer: InvoiceSettings, customer: Customer, now: datetime
) -> list[str] | None:
    """Mail the invoice `doc` once to the account's admins and mark it sent; the addresses, or None when the
    account has no admin with an address. Raises MailError (recorded on the document) when sending fails."""
    to = admin_emails(couch, account_id)
    if not to:
        log.info("invoice %s: account %s has no admin with an e-mail address", doc["number"], account_id)
        return None
    db = couch.db(doc["pvt_account_db"])
    pdf = db.get_attachment(doc["_id"], PDF_NAME)
    if issuer.smtp is None:  # invoice_settings refuses `mail: true` without it
        raise MailError("the reseller's invoice settings name no SMTP server")
    try:
        send(issuer.smtp, message(doc, pdf, issuer, customer, to))
    except MailError as exc:
        _mark(db, doc["_id"], {"error": str(exc), "failed_at": now.isoformat()})
        raise
    _mark(db, doc["_id"], {"sent_at": now.isoformat(), "to": to})
    log.info("invoice %s mailed to %d admin(s) of %s", doc["number"], len(to), account_id)
    return to


def _mark(db: Database, doc_id: str, mail: dict) -> None:
    """Record the mail's outcome on the invoice document, unless it was already sent."""

    def change(doc: dict | None) -> dict | None:
        if doc is None:
            raise NotFound(404, "not_found", "missing", f"{db.name}/{doc_id}")
        if doc.get("mail", {}).get("sent_at"):
            return None
        return {**doc, "mail": mail}

    db.update(doc_id, change)
