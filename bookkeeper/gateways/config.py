"""Per-reseller gateway configuration: the document `configs_bookkeeper_gateways` in the reseller's account DB.

One section per gateway (`braintree`, `paypal`, `yoomoney`, `stripe`) and, in the master's document only,
`http_sync` (the KAZOO 4.2 HTTP bookkeeper endpoint). Secrets are `SecretStr`: they print as `**********`, and
`redacted` is the only form any command shows. A section's `currency`, when given, must be the reseller's
billing currency (`configs_bookkeeper.currency`): a payment is credited to balances kept in that currency.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ..couch import Couch
from ..dbnames import account_db
from ..errors import InputError

GATEWAYS_DOC = "configs_bookkeeper_gateways"


class GatewayConfig(BaseModel):
    """What every gateway section has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    currency: str | None = None


class BraintreeConfig(GatewayConfig):
    """`environment`: `sandbox`, `production`, or `http://127.0.0.1:<port>` (a local stub, for tests only)."""

    merchant_id: str = Field(min_length=1)
    public_key: str = Field(min_length=1)
    private_key: SecretStr
    environment: str = Field("production", pattern=r"^(sandbox|production|http://127\.0\.0\.1:[0-9]{1,5})$")
    merchant_account_id: str | None = None
    timeout: float = Field(20.0, gt=0, le=120)


class PayPalConfig(GatewayConfig):
    """`verify_url` overrides the IPN verification endpoint of `environment`: PayPal's own (https) or
    `http://127.0.0.1:<port>/...` (a local stub, for tests only); nothing else (never `file:`, never another
    host: the message would be posted there)."""

    receiver_id: str = Field(min_length=1)
    receiver_email: str | None = None
    environment: Literal["live", "sandbox"] = "live"
    verify_url: str | None = Field(
        None,
        pattern=r"^(https://ipnpb\.(sandbox\.)?paypal\.com/cgi-bin/webscr|"
        r"http://127\.0\.0\.1:[0-9]{1,5}(/[A-Za-z0-9_./-]*)?)$",
    )
    timeout: float = Field(10.0, gt=0, le=60)


class YooMoneyConfig(GatewayConfig):
    notification_secret: SecretStr


class StripeConfig(GatewayConfig):
    webhook_secret: SecretStr
    tolerance: int = Field(300, ge=1, le=3600)


class HttpSyncConfig(BaseModel):
    """KAZOO 4.2 sends `system_config/services.http_sync.authorization_header` as `Authorization`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    authorization: SecretStr


SECTIONS: dict[str, type[BaseModel]] = {
    "braintree": BraintreeConfig,
    "paypal": PayPalConfig,
    "yoomoney": YooMoneyConfig,
    "stripe": StripeConfig,
    "http_sync": HttpSyncConfig,
}


def where(reseller_id: str) -> str:
    return f"{account_db(reseller_id)}/{GATEWAYS_DOC}"


def parse_section(reseller_id: str, name: str, section) -> BaseModel:
    """Validate one section; InputError naming the document and the field."""
    if name not in SECTIONS:
        raise InputError(where(reseller_id), name, f"unknown gateway; one of {sorted(SECTIONS)}")
    try:
        return SECTIONS[name].model_validate(section)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join([name, *(str(p) for p in first["loc"])])
        raise InputError(where(reseller_id), field, first["msg"]) from None


def load_section(couch: Couch, reseller_id: str, name: str) -> BaseModel | None:
    """A reseller's configuration of one gateway; None if it has none (or no account DB)."""
    db = couch.db(account_db(reseller_id))
    doc = db.get_or_none(GATEWAYS_DOC) if db.exists() else None
    if not doc or doc.get(name) is None:
        return None
    return parse_section(reseller_id, name, doc[name])


def save_section(couch: Couch, reseller_id: str, name: str, section: dict) -> None:
    """Validate and store one section (the other sections are kept)."""
    parse_section(reseller_id, name, section)
    couch.db(account_db(reseller_id)).update(
        GATEWAYS_DOC, lambda doc: {**(doc or {"pvt_type": "config"}), name: section}
    )


def redacted(couch: Couch, reseller_id: str) -> dict:
    """The whole document as a person may see it: every secret shown as `**********` (pydantic's SecretStr)."""
    db = couch.db(account_db(reseller_id))
    doc = (db.get_or_none(GATEWAYS_DOC) if db.exists() else None) or {}
    out = {}
    for name in sorted(k for k in doc if k in SECTIONS):
        out[name] = parse_section(reseller_id, name, doc[name]).model_dump(mode="json", exclude_none=True)
    return out
