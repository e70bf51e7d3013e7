"""Usage report: the billed quantity of each item on each day of a period, from its charge entries (pure).

Daily fees bill a day's peak quantity, so that day's quantity is the highest billed. A monthly fee or a proration
bills the item's quantity from its day on, so it holds until the next one (a proration carries the new total).
Per item the report also sums what was charged for it (its service entries, credits negative) and keeps the last
rate, so the items' amounts add up to the statement's services: the invoice's net services total.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..clock import Period
from .statement import SERVICE_KINDS, day_of

LEVEL_KINDS = frozenset({"mrc", "prorate", "prorate_credit"})


@dataclass(frozen=True)
class UsageReport:
    """`quantities[(category, item)][k - 1]` is the item's quantity on day k of `period`."""

    period: Period
    quantities: dict[tuple[str, str], tuple[int, ...]]
    amounts: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    @property
    def days(self) -> list[date]:
        return [self.period.date_of_day(k) for k in range(1, self.period.days + 1)]

    def rows(self) -> list[dict]:
        """One row per item and day: date, category, item, quantity."""
        return [
            {"date": day.isoformat(), "category": category, "item": item, "quantity": per_day[k]}
            for (category, item), per_day in sorted(self.quantities.items())
            for k, day in enumerate(self.days)
        ]

    def items(self) -> list[dict]:
        """One row per item: its high-water mark (the peak of its days), the days it was billed for, the last rate
        and the amount charged for it in the period."""
        return [
            {
                "category": category,
                "item": item,
                "peak": max(per_day, default=0),
                "days": sum(1 for n in per_day if n > 0),
                "rate": self.rates.get((category, item)),
                "amount": self.amounts.get((category, item), Decimal(0)),
            }
            for (category, item), per_day in sorted(self.quantities.items())
        ]

    def csv(self) -> str:
        """The report as CSV: a header, then one row per item and day."""
        out = io.StringIO()
        writer = csv.DictWriter(out, ["date", "category", "item", "quantity"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()


def usage_report(entries, period: Period) -> UsageReport:
    """Quantities per item per day over `period` from the charge entries among `entries`."""
    n = period.days
    daily: dict[tuple[str, str], list[int]] = {}
    levels: dict[tuple[str, str], list[int]] = {}
    charged = [e for e in entries if e.category and e.item and e.quantity is not None]
    for e in sorted(charged, key=lambda e: (day_of(e, period), e.at, e.id)):
        key, k = (e.category, e.item), day_of(e, period)
        if e.kind == "daily":
            days = daily.setdefault(key, [0] * n)
            days[k - 1] = max(days[k - 1], int(e.quantity))
        elif e.kind in LEVEL_KINDS:
            days = levels.setdefault(key, [0] * n)
            days[k - 1 :] = [int(e.quantity)] * (n - k + 1)
    merged = {
        key: tuple(max(a, b) for a, b in zip(daily.get(key, [0] * n), levels.get(key, [0] * n), strict=True))
        for key in {*daily, *levels}
    }
    amounts: dict[tuple[str, str], Decimal] = {}
    rates: dict[tuple[str, str], Decimal] = {}
    for e in sorted(charged, key=lambda e: (e.at, e.id)):
        if e.kind in SERVICE_KINDS:
            key = (e.category, e.item)
            amounts[key] = amounts.get(key, Decimal(0)) + (e.amount if e.type == "debit" else -e.amount)
            merged.setdefault(key, (0,) * n)
            if e.rate is not None:
                rates[key] = e.rate
    return UsageReport(period, merged, amounts, rates)
