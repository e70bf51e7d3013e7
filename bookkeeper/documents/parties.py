"""Who issues an invoice and who receives it: the reseller's `invoice` settings and the customer's address.

The reseller's `configs_bookkeeper` holds `invoice` (docs/charging.md "Settings"): `company_name`, `address` (lines),
`vat_id`, `number_prefix`, `footer`, `locale`, `logo` (the name of an image attachment on that document),
`mail`, `from` and `smtp` (`host`, `port`, `starttls`, `user`, `password`). The customer's billing address is
KAZOO's `contact.billing` on the account document, or OnNet's `billing_address.line1..`.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError


class SmtpSettings(BaseModel):
    """How to reach the reseller's mail server. The password is never logged or shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = Field(default=None, repr=False)
    timeout: float = 30.0


class InvoiceSettings(BaseModel):
    """The reseller's `invoice` settings, with defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    company_name: str = ""
    address: tuple[str, ...] = ()
    vat_id: str = ""
    number_prefix: str = "INV"
    footer: str = ""
    locale: str = "en_US"
    logo: str = "logo.png"
    mail: bool = False
    sender: str = Field(default="", alias="from")
    smtp: SmtpSettings | None = None

    @field_validator("address", mode="before")
    @classmethod
    def _lines(cls, value):
        return tuple(value.splitlines()) if isinstance(value, str) else value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError, TypeError):
            raise ValueError(f"unknown locale: {value!r}") from None
        return value

    @field_validator("number_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_/" for c in value):
            raise ValueError(f"must be letters, digits, '-', '_' or '/', got {value!r}")
        return value


def invoice_settings(invoice: dict | None, where: str) -> InvoiceSettings:
    """Validate a reseller's `invoice` dict; an error names `where` (the document) and the field."""
    try:
        parsed = InvoiceSettings.model_validate(invoice or {})
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(["invoice", *(str(p) for p in first["loc"])])
        error = first.get("ctx", {}).get("error")
        raise InputError(where, field, str(error) if error is not None else first["msg"]) from None
    if parsed.mail and (parsed.smtp is None or not parsed.sender):
        raise InputError(where, "invoice.mail", "mail: true needs invoice.smtp.host and invoice.from")
    return parsed


@dataclass(frozen=True)
class Customer:
    """The invoice's addressee."""

    account_id: str
    name: str
    address: tuple[str, ...]


def customer(account_doc: dict) -> Customer:
    """Name and billing address from an account document."""
    billing = (account_doc.get("contact") or {}).get("billing") or {}
    onnet = account_doc.get("billing_address") or {}
    if billing:
        city = " ".join(str(billing[k]) for k in ("postal_code", "locality") if billing.get(k))
        lines = [
            billing.get("street_address"),
            billing.get("extended_address"),
            city,
            billing.get("region"),
            billing.get("country"),
        ]
    else:
        lines = [onnet[k] for k in sorted(onnet) if k.startswith("line")]
    if billing.get("name") and billing["name"] != account_doc.get("name"):
        lines.insert(0, f"Attn. {billing['name']}")
    name = account_doc.get("name") or account_doc["_id"]
    return Customer(account_doc["_id"], str(name), tuple(str(line) for line in lines if line))
