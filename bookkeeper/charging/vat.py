"""VAT entries of netto pricing (docs/charging.md "VAT"): each charge of net amount A is followed by a `vat` entry
R(A × vat_rate / 100) of the same type (a credit's VAT is credited), keyed by the charge's own key. Brutto prices
include VAT: no entry is written (the invoice extracts it). Pure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ..money import round_money
from ..settings import BillingSettings
from .model import Charge

VAT_KIND = "vat"


def vat_of(amount: Decimal, billing_settings: BillingSettings) -> Decimal:
    """The VAT added to a net `amount` (0 unless netto with a rate)."""
    if billing_settings.vat_disposition != "netto" or not billing_settings.vat_rate:
        return Decimal(0)
    return round_money(amount * billing_settings.vat_rate / 100, billing_settings.currency)


def with_vat(charges: list[Charge], billing_settings: BillingSettings) -> list[Charge]:
    """The charges, each followed by its VAT entry where there is one."""
    out = []
    for charge in charges:
        out.append(charge)
        vat = vat_of(charge.amount, billing_settings)
        if vat > 0:
            rate = f"{billing_settings.vat_rate.normalize():f}"
            out.append(
                replace(
                    charge,
                    key=f"{charge.key}/{VAT_KIND}",
                    kind=VAT_KIND,
                    rate=billing_settings.vat_rate,
                    amount=vat,
                    factor="1",
                    description=f"VAT {rate}% of {charge.amount} ({charge.kind} {charge.category}/{charge.item})",
                )
            )
    return out
