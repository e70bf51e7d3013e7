"""Referral commissions, pure (docs/charging.md "Referral commissions").

An agent's terms come from `pvt_agent` on its account document: `{"levels": [P1, P2, ...], "categories": {cat: P}}`
(percentages, numbers or strings; `categories` replaces P1 for that category's charges). The base of one referred
account for one of its periods is its debits of kinds `mrc`, `prorate`, `activation`, `daily`, `manual` in that
period, minus its `prorate_credit` credits and the corrections of those debits; payments, top-ups and opening
credits are not in it. The commission is rounded once: `R(Σ base_c × P_c / 100)`, nothing when the base is ≤ 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import InputError
from ..money import round_money
from .entries import LedgerEntry

BASE_DEBITS = ("mrc", "prorate", "activation", "daily", "manual")
BASE_CREDITS = ("prorate_credit",)
RECORD_PREFIX = "bookkeeper_commission-"


@dataclass(frozen=True)
class AgentTerms:
    """Percentages per level (level 1 first) and per category (level 1 only)."""

    levels: tuple[Decimal, ...]
    categories: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, level: int, category: str | None) -> Decimal:
        if level == 1 and category is not None and category in self.categories:
            return self.categories[category]
        return self.levels[level - 1]


def _percent(value: Any, where: str, name: str) -> Decimal:
    try:
        rate = Decimal(str(value)) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= 100:
        raise InputError(where, name, f"not a percentage 0..100: {value!r}")
    return rate


def agent_terms(doc: Mapping[str, Any], where: str) -> AgentTerms | None:
    """The terms of an account document's `pvt_agent`; None if it is no agent."""
    agent = doc.get("pvt_agent")
    if agent is None or agent is False:
        return None
    if not isinstance(agent, Mapping):
        raise InputError(where, "pvt_agent", f"not an object: {agent!r}")
    levels = agent.get("levels")
    if not isinstance(levels, list) or not levels:
        raise InputError(where, "pvt_agent.levels", f"not a list of percentages: {levels!r}")
    categories = agent.get("categories") or {}
    if not isinstance(categories, Mapping):
        raise InputError(where, "pvt_agent.categories", f"not an object: {categories!r}")
    return AgentTerms(
        tuple(_percent(p, where, f"pvt_agent.levels.{i}") for i, p in enumerate(levels)),
        {c: _percent(p, where, f"pvt_agent.categories.{c}") for c, p in categories.items()},
    )


def base_by_category(
    entries: Iterable[LedgerEntry], corrected: Mapping[str, LedgerEntry | None]
) -> dict[str | None, Decimal]:
    """The net base per category (None: no category, e.g. a manual debit) of one period's entries (each with
    `type`, `kind`, `amount`, `category`, `metadata`). `corrected` maps a correction's `db/id` target to the entry it
    corrects."""
    out: dict[str | None, Decimal] = {}

    def add(category: str | None, amount: Decimal) -> None:
        out[category] = out.get(category, Decimal(0)) + amount

    for e in entries:
        if e.type == "debit" and e.kind in BASE_DEBITS:
            add(e.category, e.amount)
        elif e.type == "credit" and e.kind in BASE_CREDITS:
            add(e.category, -e.amount)
        elif e.type == "credit" and e.kind == "correction":
            target = corrected.get(correction_target(e) or "")
            if target is not None and target.type == "debit" and target.kind in BASE_DEBITS:
                add(target.category, -e.amount)
    return out


def correction_target(entry: LedgerEntry) -> str | None:
    """`db/id` of the entry a correction reverses, if it says."""
    corrects = (entry.metadata or {}).get("corrects") if isinstance(entry.metadata, Mapping) else None
    if isinstance(corrects, Mapping) and corrects.get("db") and corrects.get("id"):
        return f"{corrects['db']}/{corrects['id']}"
    return None


def commission(
    base: Mapping[str | None, Decimal], terms: AgentTerms, level: int, currency: str
) -> tuple[Decimal, Decimal]:
    """(total base, commission rounded once); the commission is 0 when the base is ≤ 0 (no claw-back)."""
    total = sum(base.values(), Decimal(0))
    if total <= 0:
        return total, Decimal(0)
    return total, round_money(sum((b * terms.rate(level, c) / 100 for c, b in base.items()), Decimal(0)), currency)


def commission_key(agent_id: str, referred_id: str, level: int, period_start: datetime) -> str:
    """The deterministic key of one commission: (agent, referred account, level, period)."""
    return f"commission:{agent_id}:{referred_id}:{level}:{period_start.isoformat()}"


def record_id(key: str) -> str:
    """The id of a commission's record document in the agent's account DB."""
    return RECORD_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]
