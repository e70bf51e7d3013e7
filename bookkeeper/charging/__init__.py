"""The pure charging core (docs/charging.md): priced items + account facts + state + moment -> charges, decision."""

from .evaluate import Reprice, evaluate, missed_period_ends
from .keys import charge_key
from .model import DELINQUENT, GOOD_STANDING, RULE_VERSION, AccountFacts, Charge, Decision, PricedItem
from .proration import daily_fee, prorated
from .state import BillingState, DailyLast, DayFee, ItemLevel, rebuilt

__all__ = [
    "DELINQUENT",
    "GOOD_STANDING",
    "RULE_VERSION",
    "AccountFacts",
    "BillingState",
    "Charge",
    "DailyLast",
    "DayFee",
    "Decision",
    "ItemLevel",
    "PricedItem",
    "Reprice",
    "charge_key",
    "daily_fee",
    "evaluate",
    "missed_period_ends",
    "prorated",
    "rebuilt",
]
