"""The arithmetic of the rules: prorated amounts and daily fees, each rounded once with `round_money`."""

from __future__ import annotations

from decimal import Decimal

from ..money import round_money


def prorated(amount: Decimal, k: int, days: int, currency: str) -> Decimal:
    """R(amount × (N − k + 1) / N): the share of a monthly amount for the days left, today included."""
    return round_money(amount * (days - k + 1) / days, currency)


def days_left_factor(k: int, days: int) -> str:
    return f"{days - k + 1}/{days}"


def daily_fee(total: Decimal, k: int, days: int, currency: str) -> Decimal:
    """R(T × k / N) − R(T × (k − 1) / N): day k's fee; over days 1..N these add up to R(T)."""
    return round_money(total * k / days, currency) - round_money(total * (k - 1) / days, currency)
