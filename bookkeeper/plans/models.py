"""Pydantic models of KAZOO service plan documents (docs/kazoo.md), 4.3 and 4.2 forms.

Plans are user documents: every model keeps unknown fields (`extra="allow"`) and `dump()` writes them back.
Numbers are parsed as Decimal, never float. Fields left out of a document stay unset, so `dump()` writes
back exactly the keys the document had; the pricing code applies KAZOO's defaults.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..errors import shown

ALL_ITEMS = "_all"
STRATEGIES = ("simple", "recursive", "cumulative")
_TIER_KEY = re.compile(r"^\d+$")


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PydanticCustomError("not_a_number", "not a number: {shown}", {"shown": shown(value)})
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise PydanticCustomError("not_a_number", "not a number: {shown}", {"shown": shown(value)})
    if number < 0:
        raise PydanticCustomError("negative", "must not be negative: {shown}", {"shown": shown(value)})
    return number


def _count(value: Any) -> int:
    number = _number(value)
    if number != number.to_integral_value():
        raise PydanticCustomError("not_an_integer", "not a whole number: {shown}", {"shown": shown(value)})
    return int(number)


def _step(value: Any) -> int:
    step = _count(value)
    if step < 1:
        raise PydanticCustomError("step", "must be at least 1: {shown}", {"shown": shown(value)})
    return step


def _tier_key(key: Any) -> str:
    if not _TIER_KEY.match(str(key)):
        raise PydanticCustomError("tier_key", "tier key is not a whole number: {shown}", {"shown": shown(key)})
    return str(key)


def _strategy(value: Any) -> str:
    if value not in STRATEGIES:
        raise PydanticCustomError(
            "strategy", "unknown merge strategy {shown} (simple, recursive, cumulative)", {"shown": shown(value)}
        )
    return str(value)


Number = Annotated[Decimal, BeforeValidator(_number)]
Count = Annotated[int, BeforeValidator(_count)]
Step = Annotated[int, BeforeValidator(_step)]
Tiers = dict[Annotated[str, BeforeValidator(_tier_key)], Number]
Strategy = Annotated[str, BeforeValidator(_strategy)]


class Open(BaseModel):
    """A part of a user document: unknown keys are kept and written back."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """The document part as JSON-shaped data (numbers stay Decimal), with every key it was given."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class SingleDiscount(Open):
    rate: Number | None = None
    rates: Tiers | None = None
    minimum: Count | None = None


class CumulativeDiscount(Open):
    rate: Number | None = None
    rates: Tiers | None = None
    maximum: Count | None = None
    minimum: Count | None = None


class Discounts(Open):
    single: SingleDiscount | None = None
    cumulative: CumulativeDiscount | None = None


class Prorate(Open):
    additions: bool | None = None
    removals: bool | None = None


class ItemPlan(Open):
    """`plan.<category>.<item>` (docs/kazoo.md); `enabled` is the 4.2 field."""

    rate: Number | None = None
    rates: Tiers | None = None
    flat_rate: Number | None = None
    flat_rates: Tiers | None = None
    minimum: Count | None = None
    maximum: Count | None = None
    step: Step | None = None
    activation_charge: Number | None = None
    cascade: bool | None = None
    as_: str | None = Field(default=None, alias="as")
    name: str | None = None
    exceptions: list[str] | None = None
    discounts: Discounts | None = None
    prorate: Prorate | None = None
    enabled: bool | None = None


class MergeSpec(Open):
    strategy: Strategy | None = None
    priority: int | None = None


class BookkeeperRef(Open):
    id: str | None = None
    type: str | None = None
    vendor_id: str | None = None


class Ratedeck(Open):
    id: str | None = None
    name: str | None = None


class ServicePlan(Open):
    """A `pvt_type: service_plan` document. 4.2 keeps `bookkeepers` and the `ui_apps`/`ratedeck` categories."""

    id: str | None = Field(default=None, alias="_id")
    name: str | None = None
    description: str | None = None
    category: str | None = None
    plan: dict[str, dict[str, ItemPlan]] = Field(default_factory=dict)
    merge: MergeSpec | None = None
    bookkeeper: BookkeeperRef | None = None
    bookkeepers: dict[str, Any] | None = None
    ratedeck: Ratedeck | None = None
    applications: dict[str, dict[str, Any]] | None = None
    limits: dict[str, Any] | None = None

    def item(self, category: str, item: str) -> ItemPlan | None:
        return self.plan.get(category, {}).get(item)
