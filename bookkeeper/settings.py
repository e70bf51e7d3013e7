"""A reseller's billing settings: its `configs_bookkeeper` document (docs/charging.md "Settings").

Every key is optional. `resolve_billing_settings` merges key by key: the reseller's document, then the master's,
then the built-in defaults. Unknown keys are kept (`model_extra`); CouchDB metadata (`_id`, `_rev`, ...) is dropped.
An invalid value raises `InputError` naming the document and the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .clock import zone
from .errors import InputError
from .money import check_currency
from .plans.counters import Counter, load_counters

CANCELLABLE_CATEGORIES = frozenset({"limits"})


class BillingSettings(BaseModel):
    """Validated settings with docs/charging.md's defaults."""

    model_config = ConfigDict(extra="allow", frozen=True)

    currency: str = "USD"
    billing_day: int = 1
    timezone: str = "UTC"
    daily_categories: tuple[str, ...] = ()
    prorate_late_mrc: bool = True
    cancel_on_insufficient_funds: tuple[str, ...] = ("limits",)
    block_on_negative: bool = True
    vat_rate: Decimal = Decimal(0)
    vat_disposition: Literal["netto", "brutto"] = "netto"
    charge_missed_days: bool = True
    commission_payout: Literal["credit", "payable"] = "credit"
    invoice: dict[str, Any] = {}
    billable_counters: tuple[Counter, ...] = ()

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return check_currency(value)
        except InputError:
            raise ValueError(f"unknown ISO 4217 currency: {value!r}") from None

    @field_validator("billing_day", mode="before")
    @classmethod
    def _billing_day(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 28:
            raise ValueError(f"must be 1..28, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("cancel_on_insufficient_funds")
    @classmethod
    def _cancellable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - CANCELLABLE_CATEGORIES)
        if unknown:
            raise ValueError(f"only {sorted(CANCELLABLE_CATEGORIES)} can be cancelled, got {unknown}")
        return value

    @field_validator("vat_rate")
    @classmethod
    def _vat_rate(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or not 0 <= value <= 100:
            raise ValueError(f"must be a percentage 0..100, got {value}")
        return value

    @field_validator("billable_counters", mode="before")
    @classmethod
    def _counters(cls, value: Any) -> tuple[Counter, ...]:
        return load_counters({"billable_counters": value}, "configs_bookkeeper")  # billing_settings_from_doc checked it

    def is_daily(self, category: str) -> bool:
        return category in self.daily_categories


def _fields(doc: dict | None) -> dict[str, Any]:
    return {k: v for k, v in (doc or {}).items() if not k.startswith("_")}


def billing_settings_from_doc(doc: dict | None, where: str | None = None) -> BillingSettings:
    """Validate one `configs_bookkeeper` document; missing keys take the defaults."""
    load_counters(_fields(doc), where or (doc or {}).get("_id", "configs_bookkeeper"))  # names the entry's field
    try:
        return BillingSettings.model_validate(_fields(doc))
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        error = first.get("ctx", {}).get("error")
        problem = str(error) if error is not None else first["msg"]
        raise InputError(where or (doc or {}).get("_id", "configs_bookkeeper"), field, problem) from None


def resolve_billing_settings(
    reseller_doc: dict | None,
    master_doc: dict | None,
    *,
    reseller_where: str | None = None,
    master_where: str | None = None,
) -> BillingSettings:
    """Settings for a reseller's customers: each key from the reseller's doc, else the master's, else the default.

    Each document is validated on its own first, so an error names the document it is in.
    """
    billing_settings_from_doc(master_doc, master_where)
    billing_settings_from_doc(reseller_doc, reseller_where)
    return BillingSettings.model_validate({**_fields(master_doc), **_fields(reseller_doc)})
