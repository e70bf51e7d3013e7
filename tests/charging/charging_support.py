"""Helpers for the charging tests: priced items, and an account driven through evaluations like the ledger would."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from bookkeeper.charging import AccountFacts, BillingState, Charge, Decision, PricedItem, evaluate
from bookkeeper.settings import BillingSettings, billing_settings_from_doc

ACCOUNT = "0123456789abcdef0123456789abcdef"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def item(
    category: str, name: str, quantity: int, rate, *, total=None, activation="0", additions=True, removals=False
) -> PricedItem:
    rate = Decimal(str(rate))
    total = Decimal(str(total)) if total is not None else rate * quantity
    return PricedItem(category, name, quantity, quantity, rate, total, Decimal(activation), additions, removals)


def devices(n: int, rate="10", **kw) -> PricedItem:
    return item("devices", "sip_device", n, rate, **kw)


def trunks(n: int, rate="10", **kw) -> PricedItem:
    return item("limits", "twoway_trunks", n, rate, **kw)


@dataclass
class Account:
    """An account as the ledger sees it: balance, block flags, saved state; `run` evaluates and applies."""

    billing_settings: BillingSettings = field(default_factory=lambda: billing_settings_from_doc({}))
    balance: Decimal = Decimal(0)
    facts: AccountFacts = field(default_factory=lambda: AccountFacts(Decimal(0)))
    state: BillingState | None = None
    written: list[Charge] = field(default_factory=list)

    @classmethod
    def with_settings(cls, balance="0", **billing_settings) -> Account:
        return cls(billing_settings_from_doc(billing_settings), Decimal(balance))

    def run(self, moment: str, items, credit="0", reprice=None) -> Decision:
        self.balance += Decimal(credit)
        facts = replace(self.facts, balance=self.balance)
        decision = evaluate(self.billing_settings, ACCOUNT, self.state, list(items), facts, at(moment), reprice)
        for charge in decision.charges:
            assert charge.key not in {c.key for c in self.written}, f"charged twice: {charge.key}"
            self.balance += charge.signed
            self.written.append(charge)
        blocked = (self.facts.blocked_by_us or decision.block) and not decision.unblock
        self.facts = replace(facts, balance=self.balance, blocked_by_us=blocked)
        self.state = decision.state
        return decision


def amounts(decision: Decision) -> list[tuple[str, str]]:
    """(kind, signed amount) of each charge, for compact assertions."""
    return [(c.kind, str(c.signed)) for c in decision.charges]
