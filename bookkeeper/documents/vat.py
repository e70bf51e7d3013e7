"""VAT on an invoice's taxable amount (docs/charging.md "VAT"), rounded once with `round_money`.

`netto`: the amount is net and VAT is added on top. `brutto`: the amount already includes VAT, which is extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..errors import InputError
from ..money import round_money

DISPOSITIONS = ("netto", "brutto")


@dataclass(frozen=True)
class Vat:
    """The VAT of one invoice: `net` + `vat` = `gross`, each a whole number of minor units."""

    rate: Decimal
    disposition: str
    net: Decimal
    vat: Decimal
    gross: Decimal

    def to_doc(self) -> dict:
        return {
            "rate": str(self.rate),
            "disposition": self.disposition,
            "net": str(self.net),
            "vat": str(self.vat),
            "gross": str(self.gross),
        }


def compute_vat(amount: Decimal, rate: Decimal, disposition: str, currency: str) -> Vat:
    """VAT at `rate` percent on `amount` (already rounded) for `disposition` netto or brutto."""
    if disposition not in DISPOSITIONS:
        raise InputError("configs_bookkeeper", "vat_disposition", f"must be netto or brutto, got {disposition!r}")
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise InputError("configs_bookkeeper", "vat_rate", f"must be a percentage 0..100, got {rate}")
    if disposition == "netto":
        vat = round_money(amount * rate / 100, currency)
        return Vat(rate, disposition, amount, vat, amount + vat)
    vat = round_money(amount * rate / (100 + rate), currency)
    return Vat(rate, disposition, amount - vat, vat, amount)
