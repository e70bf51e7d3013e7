"""An account's statement for one billing period, computed from its ledger entries only (a pure function).

Service charges are grouped by item: monthly fees, prorations with their day counts, activations, daily fees as
"N days × ...". Manual debits and corrections are the invoice's adjustments; payments and other credits are
listed one by one as movements. The statement must reconcile — opening + credits − debits = closing, to the
minor unit — or `build_statement` raises `NotReconciled`. VAT applies to the services (their charges net of
prorated removal credits): netto, it is the sum of the period's `vat` entries, which the balance paid; brutto, it
is extracted from the services' total (vat.py). The invoice total = services + netto VAT + adjustments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..clock import Period, local_date
from ..errors import BookkeeperError, InputError
from ..ledger.documents import info_of
from ..money import format_money, round_money
from .vat import Vat, compute_vat

SERVICE_KINDS = ("mrc", "prorate", "prorate_credit", "activation", "daily")
VAT_KIND = "vat"
ADJUSTMENT_KINDS = ("manual", "correction")
NOT_A_LINE = frozenset({"rollover"})
KIND_LABELS = {
    "mrc": "Monthly fee",
    "prorate": "Prorated addition",
    "prorate_credit": "Prorated removal",
    "activation": "Activation",
    "daily": "Daily fee",
    "payment": "Payment",
    "manual": "Manual adjustment",
    "refund": "Refund",
    "correction": "Correction",
    "credit": "Credit",
}


class NotReconciled(BookkeeperError):
    """The ledger's balances and its entries of the period disagree: no document may be issued."""


@dataclass(frozen=True)
class Line:
    """One statement line: several entries of one item (services) or one entry (other movements).

    `amount` is positive; `type` says whether it was a debit or a credit on the account.
    """

    type: str
    kind: str
    category: str
    item: str
    description: str
    detail: str
    first: date
    last: date
    amount: Decimal
    entries: tuple[str, ...]

    @property
    def dates(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    @property
    def charge(self) -> Decimal:
        """The amount as a charge: negative for a credit."""
        return self.amount if self.type == "debit" else -self.amount

    def to_doc(self) -> dict:
        return {
            "type": self.type,
            "kind": self.kind,
            "category": self.category,
            "item": self.item,
            "description": self.description,
            "detail": self.detail,
            "dates": self.dates,
            "amount": str(self.amount),
            "entries": list(self.entries),
        }


@dataclass(frozen=True)
class Statement:
    """One account's period: the services (with VAT), the adjustments and every other movement, between two
    balances."""

    account_id: str
    currency: str
    locale: str
    period: Period
    opening: Decimal
    closing: Decimal
    services: tuple[Line, ...]
    adjustments: tuple[Line, ...]
    movements: tuple[Line, ...]
    debits: Decimal
    credits: Decimal
    vat: Vat

    @property
    def lines(self) -> tuple[Line, ...]:
        return self.services + self.adjustments + self.movements

    @property
    def total(self) -> Decimal:
        """What the invoice charges: the services with VAT, and the adjustments (manual debits, corrections)."""
        return self.vat.gross + sum((line.charge for line in self.adjustments), Decimal(0))

    def money(self, amount: Decimal) -> str:
        """`amount` formatted for the reseller's currency and locale."""
        return format_money(amount, self.currency, self.locale)

    def to_doc(self) -> dict:
        return {
            "currency": self.currency,
            "locale": self.locale,
            "period": self.period.to_doc(),
            "opening": str(self.opening),
            "closing": str(self.closing),
            "debits": str(self.debits),
            "credits": str(self.credits),
            "vat": self.vat.to_doc(),
            "total": str(self.total),
            "services": [line.to_doc() for line in self.services],
            "adjustments": [line.to_doc() for line in self.adjustments],
            "movements": [line.to_doc() for line in self.movements],
        }


def build_statement(
    entries,
    *,
    account_id: str,
    period: Period,
    opening: Decimal,
    closing: Decimal,
    currency: str,
    vat_rate: Decimal = Decimal(0),
    vat_disposition: str = "netto",
    locale: str = "en_US",
) -> Statement:
    """The statement of `period` from the ledger entries in it and the balances at its start and end.

    Carry-forward (`rollover`) entries are not lines. Raises `NotReconciled` if opening + credits − debits
    differs from `closing`, and `InputError` for an entry whose amount is not a positive whole minor unit.
    """
    entries = [e for e in entries if e.kind not in NOT_A_LINE]
    for entry in entries:
        _check_amount(entry, currency)
    zero = round_money(Decimal(0), currency)  # sums starting here show every minor digit: 100 -> 100.00
    opening, closing = opening + zero, closing + zero
    debits = sum((e.amount for e in entries if e.type == "debit"), zero)
    credits = sum((e.amount for e in entries if e.type == "credit"), zero)
    if opening + credits - debits != closing:
        raise NotReconciled(
            f"account {account_id}, period {period.start_date} .. {period.last_date}: opening {opening} "
            f"+ credits {credits} − debits {debits} = {opening + credits - debits}, but the ledger's closing "
            f"balance is {closing} (difference {closing - (opening + credits - debits)} {currency})"
        )
    fmt = lambda amount: format_money(amount, currency, locale)  # noqa: E731
    services = [e for e in entries if e.kind in SERVICE_KINDS]
    service_lines = sorted(
        (_service_line(group, period, fmt, zero) for group in _groups(services, period).values()),
        key=lambda line: (SERVICE_KINDS.index(line.kind), line.category, line.item, line.first),
    )
    by_time = sorted(entries, key=lambda e: (e.at, e.id))
    adjustments = [_movement_line(e, period, zero) for e in by_time if e.kind in ADJUSTMENT_KINDS]
    movements = [
        _movement_line(e, period, zero) for e in by_time if e.kind not in (*SERVICE_KINDS, VAT_KIND, *ADJUSTMENT_KINDS)
    ]
    taxable = sum((line.charge for line in service_lines), zero)
    vat = compute_vat(taxable, Decimal(vat_rate), vat_disposition, currency)
    if vat_disposition == "netto":  # the VAT the balance paid: the period's VAT entries
        paid = sum((e.amount if e.type == "debit" else -e.amount for e in entries if e.kind == VAT_KIND), zero)
        vat = Vat(vat.rate, vat.disposition, taxable, paid, taxable + paid)
    return Statement(
        account_id,
        currency,
        locale,
        period,
        opening,
        closing,
        tuple(service_lines),
        tuple(adjustments),
        tuple(movements),
        debits,
        credits,
        vat,
    )


def _check_amount(entry, currency: str) -> None:
    amount = entry.amount
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or round_money(amount, currency) != amount
    ):
        raise InputError(
            f"{entry.db}/{entry.id}",
            "amount",
            f"must be a positive whole number of {currency} minor units, got {amount!r}",
        )


def day_of(entry, period: Period) -> int:
    """The 1-based day of `period` an entry belongs to: its explanation's `day` if recorded, else the day of `at`."""
    day = info_of(entry.doc).get("day")
    if isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= period.days:
        return day
    return min(max((local_date(entry.at, period.tz) - period.start_date).days + 1, 1), period.days)


def _groups(entries, period: Period) -> dict[tuple, list]:
    groups: dict[tuple, list] = defaultdict(list)
    for e in entries:
        key: tuple[Any, ...]
        if e.kind == "activation":
            key = (e.kind, e.category, e.item, e.rate)
        else:
            key = (e.kind, e.category, e.item, e.quantity, e.rate, e.factor if e.kind != "daily" else None)
        groups[key].append(e)
    return groups


def _service_line(group: list, period: Period, fmt, zero: Decimal) -> Line:
    first = group[0]
    kind, n = first.kind, period.days
    days = sorted({day_of(e, period) for e in group})
    rate = fmt(first.rate)
    if kind == "daily":
        detail = (
            f"{len(days)} day{'s' * (len(days) != 1)} × {first.quantity} × {rate}/month ÷ {n} "
            f"(days {compress_days(days)})"
        )
    elif kind == "activation":
        detail = f"{sum(e.quantity for e in group)} × {rate}"
    else:
        left = _days_left(first.factor, n)
        share = "" if left == n else f" for {left} of {n} days"
        times = f"{len(group)} times: " if len(group) > 1 else ""
        if kind == "mrc":
            detail = f"{times}{first.quantity} × {rate}/month{share}"
        else:
            change = "increase" if kind == "prorate" else "decrease"
            detail = f"{times}the {change} to {first.quantity} × {rate}/month{share}"
    return Line(
        first.type,
        kind,
        first.category or "",
        first.item or "",
        f"{KIND_LABELS[kind]}: {first.category} / {first.item}",
        detail,
        period.date_of_day(days[0]),
        period.date_of_day(days[-1]),
        sum((e.amount for e in group), zero),
        tuple(sorted(e.id for e in group)),
    )


def _days_left(factor, n: int) -> int:
    """The day count of a proration factor "22/31"; a factor "1" (or none) means the whole period."""
    text = str(factor or "1")
    if "/" not in text:
        return n
    left, _, _ = text.partition("/")
    return int(left)


def _movement_line(entry, period: Period, zero: Decimal) -> Line:
    on = local_date(entry.at, period.tz)
    label = KIND_LABELS.get(entry.kind, entry.kind.capitalize())
    text = entry.description or entry.reason or ""
    return Line(
        entry.type,
        entry.kind,
        entry.category or "",
        entry.item or "",
        f"{label}: {text}" if text else label,
        entry.reason or "",
        on,
        on,
        entry.amount + zero,
        (entry.id,),
    )


def compress_days(days: list[int]) -> str:
    """[1, 2, 3, 5, 9, 10] -> "1–3, 5, 9–10"."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
