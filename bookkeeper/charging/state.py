"""An account's billing state for one period, and its JSON form (Decimals as strings) for CouchDB."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..clock import Period
from .entries import LedgerEntry

ItemKey = tuple[str, str]
ZERO = Decimal(0)


@dataclass(frozen=True)
class ItemLevel:
    """A monthly item in this period: `level` L (the T paid for), `net` charged net of credits,
    `changes` = prorated charges and credits so far (keeps keys unique when a credit lowers L and it rises again),
    `removals` = the item's `prorate.removals` flag when last seen."""

    level: Decimal = ZERO
    net: Decimal = ZERO
    changes: int = 0
    removals: bool = False


@dataclass(frozen=True)
class DayFee:
    """A daily item on one day: the day's peak quantity and the fee charged for that day so far."""

    peak: int
    charged: Decimal


@dataclass(frozen=True)
class DailyLast:
    """A daily item as last billed: what missed days (daemon down) are charged at."""

    quantity: int
    rate: Decimal
    total: Decimal


@dataclass(frozen=True)
class BillingState:
    """Per account and period. `billing_from` is the day index from which the account is billed this period
    (None until its first billed evaluation); `marks` are the activation high-water marks (billable units);
    `days` the daily fees by day index; `last_day` the last day whose daily fees are settled (charged, or skipped
    as blocked all day, or as another bookkeeper's); `last_daily` each daily item as last billed; `away` that the
    latest evaluation found the account billed by another bookkeeper."""

    account_id: str
    period: Period
    billing_from: int | None = None
    mrc_paid: bool = False
    levels: Mapping[ItemKey, ItemLevel] = field(default_factory=dict)
    marks: Mapping[ItemKey, int] = field(default_factory=dict)
    days: Mapping[int, Mapping[ItemKey, DayFee]] = field(default_factory=dict)
    last_daily: Mapping[ItemKey, DailyLast] = field(default_factory=dict)
    last_day: int | None = None
    standing: str = "good_standing"
    evaluated_at: datetime | None = None
    away: bool = False

    @property
    def started(self) -> bool:
        return self.billing_from is not None

    def rolled_to(self, period: Period) -> BillingState:
        """A fresh state for `period`, keeping what carries over (standing, the daily items as last billed, being
        away)."""
        return BillingState(
            self.account_id,
            period,
            last_daily=dict(self.last_daily),
            standing=self.standing,
            evaluated_at=self.evaluated_at,
            away=self.away,
        )

    def evolve(self, **changes: Any) -> BillingState:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return ({"away": True} if self.away else {}) | {
            "account_id": self.account_id,
            "period": self.period.to_doc(),
            "billing_from": self.billing_from,
            "mrc_paid": self.mrc_paid,
            "levels": _nest(
                self.levels,
                lambda v: {"level": str(v.level), "net": str(v.net), "changes": v.changes, "removals": v.removals},
            ),
            "marks": _nest(self.marks, int),
            "days": {
                str(k): _nest(fees, lambda v: {"peak": v.peak, "charged": str(v.charged)})
                for k, fees in sorted(self.days.items())
            },
            "last_daily": _nest(
                self.last_daily, lambda v: {"quantity": v.quantity, "rate": str(v.rate), "total": str(v.total)}
            ),
            "last_day": self.last_day,
            "standing": self.standing,
            "evaluated_at": self.evaluated_at.isoformat() if self.evaluated_at else None,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> BillingState:
        evaluated = doc.get("evaluated_at")
        return cls(
            account_id=doc["account_id"],
            period=Period.from_doc(doc["period"]),
            billing_from=doc.get("billing_from"),
            mrc_paid=bool(doc.get("mrc_paid")),
            levels=_unnest(
                doc.get("levels", {}),
                lambda v: ItemLevel(Decimal(v["level"]), Decimal(v["net"]), int(v["changes"]), bool(v["removals"])),
            ),
            marks=_unnest(doc.get("marks", {}), int),
            days={
                int(k): _unnest(fees, lambda v: DayFee(int(v["peak"]), Decimal(v["charged"])))
                for k, fees in doc.get("days", {}).items()
            },
            last_daily=_unnest(
                doc.get("last_daily", {}),
                lambda v: DailyLast(int(v["quantity"]), Decimal(v["rate"]), Decimal(v["total"])),
            ),
            last_day=doc.get("last_day"),
            standing=doc.get("standing", "good_standing"),
            evaluated_at=datetime.fromisoformat(evaluated) if evaluated else None,
            away=bool(doc.get("away")),
        )


def _nest(values: Mapping[ItemKey, Any], dump: Callable[[Any], Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (category, item), value in sorted(values.items()):
        out.setdefault(category, {})[item] = dump(value)
    return out


def _unnest(doc: Mapping[str, Mapping[str, Any]], load: Callable[[Any], Any]) -> dict[ItemKey, Any]:
    return {(category, item): load(value) for category, items in doc.items() for item, value in items.items()}


MONTHLY_KINDS = ("mrc", "prorate", "prorate_credit")


def rebuilt(
    account_id: str,
    period: Period,
    charges: Iterable[LedgerEntry],
    given: BillingState | None = None,
    daily_now: Mapping[ItemKey, DailyLast] | None = None,
) -> BillingState | None:
    """The billing state of `period` as the ledger tells it, for an account whose state document was lost or is
    older than its ledger (`given`: that older state, of any period). The period's charges (ledger entries: `at`,
    `kind`, `category`, `item`, `quantity`, `rate`, `amount`, `day`, `key`, `period_start`) say from which day it
    was billed, whether its MRC was paid (a monthly charge, or `given` of this period says so), each monthly item's
    level and changes (the latest proration's, else the MRC's quantity × rate), the activation marks (the highest
    level activated, or the MRC's quantity), each day's fees and the last day settled. What the ledger does not hold
    comes from `given`: standing, and (of this period) marks and days settled without a charge. Missed days are
    charged at each daily item's last charged quantity and rate, at the monthly total `given` or `daily_now`
    (today's items) knew for them, else quantity × rate. None if the ledger holds no charge of the period."""
    mine = [
        (c.day, c.key, (c.category, c.item), c)
        for c in charges
        if c.period_start == period.start and c.category and c.item and c.day is not None and c.key
    ]
    if not mine:
        return None
    same = given if given is not None and given.period == period else None
    levels: dict[ItemKey, ItemLevel] = {}
    marks: dict[ItemKey, int] = dict(same.marks) if same else {}
    days: dict[int, dict[ItemKey, DayFee]] = {k: dict(fees) for k, fees in same.days.items()} if same else {}
    charged_days: dict[int, dict[ItemKey, DayFee]] = {}
    last_charge: dict[ItemKey, tuple[int, Decimal]] = {}
    for day, ledger_key, key, c in sorted(mine, key=lambda m: (m[0], _changes(m[1]), m[3].at)):
        if c.kind in MONTHLY_KINDS:
            was = levels.get(key, ItemLevel())
            signed = -c.amount if c.kind == "prorate_credit" or c.type == "credit" else c.amount
            if c.kind == "mrc":
                level = (c.rate or ZERO) * (c.quantity or 0) * (-1 if c.type == "credit" else 1)
                levels[key] = ItemLevel(level, was.net + signed, was.changes, was.removals)
                marks[key] = max(marks.get(key, 0), c.quantity or 0)
            else:
                level = Decimal(ledger_key.rsplit("-", 1)[-1]) if "-" in ledger_key.rsplit("/", 1)[-1] else was.level
                levels[key] = ItemLevel(
                    level,
                    was.net + signed,
                    max(was.changes, _changes(ledger_key)),
                    c.kind == "prorate_credit" or was.removals,
                )
        elif c.kind == "activation":
            marks[key] = max(marks.get(key, 0), int(ledger_key.rsplit("/", 1)[-1]))
        elif c.kind == "daily":
            fee = charged_days.setdefault(day, {}).get(key)
            charged_days[day][key] = DayFee(
                max(c.quantity or 0, fee.peak if fee else 0), (fee.charged if fee else ZERO) + c.amount
            )
            last_charge[key] = (c.quantity or 0, c.rate or ZERO)
    for day, fees in charged_days.items():
        days[day] = {**days.get(day, {}), **fees}
    for key, was in same.levels.items() if same else ():  # items the ledger shows no monthly charge of
        got = levels.get(key)
        levels[key] = was if got is None else replace(got, removals=got.removals or was.removals)
    billed = [day for day, _, _, c in mine if c.kind in MONTHLY_KINDS] or [day for day, *_ in mine]
    known = [*(given.last_daily.items() if given else ()), *(daily_now or {}).items()]
    last_daily = dict(given.last_daily) if given else {}
    for key, (quantity, rate) in last_charge.items():
        last_daily[key] = next(
            (was for k, was in known if k == key and (was.quantity, was.rate) == (quantity, rate)),
            DailyLast(quantity, rate, rate * quantity),
        )
    return BillingState(
        account_id,
        period,
        billing_from=min([*billed, *([same.billing_from] if same and same.billing_from is not None else [])]),
        mrc_paid=any(c.kind in MONTHLY_KINDS for *_, c in mine) or bool(same and same.mrc_paid),
        levels=levels,
        marks=marks,
        days=days,
        last_daily=last_daily,
        last_day=max([*charged_days, *([same.last_day] if same and same.last_day is not None else [])], default=None),
        standing=given.standing if given else "good_standing",
        evaluated_at=given.evaluated_at if given else None,
    )


def _changes(key: str) -> int:
    """The `n` of a proration key's last part `n-<level>` (0 for other keys)."""
    head = key.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(head) if head.isdigit() and "-" in key.rsplit("/", 1)[-1] else 0
