"""What one evaluation takes in (priced items, account facts) and gives back (charges, a decision)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .state import BillingState, ItemKey

GOOD_STANDING = "good_standing"
DELINQUENT = "delinquent"
RULE_VERSION = "charging-1"


@dataclass(frozen=True)
class PricedItem:
    """One plan item as priced now: `total` is T, the KAZOO item total (billable × rate − discounts), exact.

    `activation_charge` is per unit; `prorate_additions` / `prorate_removals` are the plan's `prorate` flags
    (KAZOO schema defaults: additions true, removals false). `item` is the line's name (the `as` name);
    `plan_key` the item's key in the plan (`_all`), which names its activation charges (default: `item`).
    """

    category: str
    item: str
    quantity: int
    billable: int
    rate: Decimal
    total: Decimal
    activation_charge: Decimal = Decimal(0)
    prorate_additions: bool = True
    prorate_removals: bool = False
    plan_key: str = ""

    @property
    def key(self) -> ItemKey:
        return (self.category, self.item)

    @property
    def activation_key(self) -> ItemKey:
        return (self.category, self.plan_key or self.item)

    def cancelled(self) -> PricedItem:
        """The same item with its quantity zeroed (the default repricing of a cancelled category)."""
        return PricedItem(
            self.category,
            self.item,
            0,
            0,
            self.rate,
            Decimal(0),
            self.activation_charge,
            self.prorate_additions,
            self.prorate_removals,
            self.plan_key,
        )


@dataclass(frozen=True)
class AccountFacts:
    """What the ledger and the account documents say now. Amounts in currency units.

    `admin_blocked`: the account is disabled and not by us. `blocked_by_us`: our block marker is on the account.
    `elsewhere`: another bookkeeper bills the account (KAZOO's bookkeeper of all its plans is not ours).
    """

    balance: Decimal
    postpay_allowed: bool = False
    max_postpay: Decimal = Decimal(0)
    trial_expires: datetime | None = None
    admin_blocked: bool = False
    blocked_by_us: bool = False
    elsewhere: bool = False

    @property
    def available(self) -> Decimal:
        """Available funds = balance + postpay allowance."""
        return self.balance + (abs(self.max_postpay) if self.postpay_allowed else Decimal(0))


@dataclass(frozen=True)
class Charge:
    """One ledger entry to write. `amount` is positive and already rounded; `type` says debit or credit.

    `key` is deterministic (docs/charging.md "Never twice"): the ledger derives the document id from it.
    `factor` is the share of T charged, e.g. "22/31"; `day` is the day index k the charge belongs to.
    """

    key: str
    account_id: str
    type: str
    kind: str
    category: str
    item: str
    quantity: int
    rate: Decimal
    amount: Decimal
    currency: str
    factor: str
    period_start: datetime
    period_end: datetime
    day: int
    description: str
    rule_version: str = RULE_VERSION

    @property
    def signed(self) -> Decimal:
        """The effect on available funds: negative for a debit."""
        return -self.amount if self.type == "debit" else self.amount

    def to_doc(self) -> dict[str, Any]:
        """JSON-able form: Decimals as strings, datetimes as ISO 8601 with their offset."""
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        doc.update(
            rate=str(self.rate),
            amount=str(self.amount),
            period_start=self.period_start.isoformat(),
            period_end=self.period_end.isoformat(),
        )
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Charge:
        return cls(
            **{
                **doc,
                "rate": Decimal(doc["rate"]),
                "amount": Decimal(doc["amount"]),
                "period_start": datetime.fromisoformat(doc["period_start"]),
                "period_end": datetime.fromisoformat(doc["period_end"]),
            }
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation: what to write and what to change, in that order.

    `cancel_categories`: categories whose quantities must be zeroed in the account's own documents.
    `block` / `unblock`: set `pvt_enabled` false / true (with our marker) on the account and its descendants.
    """

    charges: tuple[Charge, ...]
    state: BillingState
    standing: str
    available_after: Decimal
    block: bool = False
    unblock: bool = False
    cancel_categories: frozenset[str] = frozenset()
