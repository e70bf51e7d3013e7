"""One invoice line: KAZOO 4.3's item calculation (docs/kazoo.md, `kz_services_item:create/4`), in Decimal.

quantity -> billable (step, minimum, maximum) -> rate (flat_rates, flat_rate, rates, rate) -> discounts -> total.
As in KAZOO (`calculate_total/1`), the discount is not capped: a discount larger than its line (a cumulative rate
above the item's rate, say) makes the total negative, and the charging rules book it as a credit line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .models import ALL_ITEMS, ItemPlan

ZERO = Decimal(0)
Quantities = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class LineItem:
    """A priced plan item. `item` is the `as` name; `key` the item's key in the plan (possibly `_all`)."""

    category: str
    key: str
    item: str
    name: str
    quantity: int
    billable: int
    rate: Decimal
    minimum: int
    maximum: int
    single_discount_rate: Decimal
    cumulative_discount_quantity: int
    cumulative_discount_rate: Decimal
    discount_total: Decimal
    total: Decimal
    activation_charge: Decimal
    prorate_additions: bool
    prorate_removals: bool

    @property
    def gross(self) -> Decimal:
        return self.billable * self.rate

    @property
    def masquerading(self) -> bool:
        return self.item != self.key

    @property
    def match_key(self) -> tuple[str, str, bool]:
        """What KAZOO matches current and proposed lines on: md5(category ++ item ++ is_masquerading)."""
        return self.category, self.item, self.masquerading


def tier(rates: Mapping[str, Decimal] | None, quantity: int) -> Decimal | None:
    """The price of the smallest tier key >= quantity; None above the top tier or without tiers."""
    tiers = rates or {}
    for key in sorted(tiers, key=int):
        if int(key) >= quantity:
            return tiers[key]
    return None


def item_quantity(category: str, key: str, plan: ItemPlan, quantities: Quantities, cascade: Quantities) -> int:
    """The item's quantity, or for `_all` the category's sum without `exceptions`; `cascade` adds descendants'."""
    sources = (quantities, cascade) if plan.cascade else (quantities,)
    if key == ALL_ITEMS:
        skip = set(plan.exceptions or ())
        return sum(n for source in sources for item, n in source.get(category, {}).items() if item not in skip)
    return sum(source.get(category, {}).get(key, 0) for source in sources)


def _step_up(quantity: int, step: int) -> int:
    return -(-quantity // step) * step


def price_item(category: str, key: str, plan: ItemPlan, quantity: int) -> LineItem:
    """Price `quantity` units of one plan item exactly as docs/kazoo.md says."""
    step = plan.step or 1
    minimum = plan.minimum or 0
    maximum = quantity if plan.maximum is None else plan.maximum
    billable = _step_up(quantity, step)
    if billable < _step_up(minimum, step):
        billable = _step_up(minimum, step)
    elif billable > _step_up(maximum, step):
        billable = _step_up(maximum, step)

    flat = tier(plan.flat_rates, billable)
    if flat is not None:
        rate, billable = flat, 1
    elif plan.flat_rate is not None and plan.flat_rate > 0:
        rate, billable = plan.flat_rate, 1
    else:
        by_tier = tier(plan.rates, billable)
        rate = by_tier if by_tier is not None else (plan.rate or ZERO)

    item_rate = plan.rate or ZERO
    discounts = plan.discounts

    def eligible(discount_minimum: int | None) -> bool:
        floor = 1 if discount_minimum is None else discount_minimum
        return item_rate > 0 and billable >= floor

    single = discounts.single if discounts else None
    single_rate = ZERO
    if single is not None and eligible(single.minimum):
        single_rate = item_rate if single.rate is None else single.rate
    cumulative = discounts.cumulative if discounts else None
    cum_qty, cum_rate = 0, ZERO
    if cumulative is not None and eligible(cumulative.minimum):
        cum_qty = min(cumulative.maximum or 0, billable)
        cum_rate = next(r for r in (tier(cumulative.rates, cum_qty), cumulative.rate, item_rate) if r is not None)
    gross = billable * rate
    discount = single_rate + cum_qty * cum_rate
    prorate = plan.prorate
    return LineItem(
        category=category,
        key=key,
        item=plan.as_ or key,
        name=plan.name or (category if key == ALL_ITEMS else f"{category}/{plan.as_ or key}"),
        quantity=quantity,
        billable=billable,
        rate=rate,
        minimum=minimum,
        maximum=maximum,
        single_discount_rate=single_rate,
        cumulative_discount_quantity=cum_qty,
        cumulative_discount_rate=cum_rate,
        discount_total=discount,
        total=gross - discount,
        activation_charge=plan.activation_charge or ZERO,
        prorate_additions=True if prorate is None or prorate.additions is None else prorate.additions,
        prorate_removals=False if prorate is None or prorate.removals is None else prorate.removals,
    )
