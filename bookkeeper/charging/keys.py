"""Deterministic charge keys (docs/charging.md "Never twice"): the same situation always gives the same key.

Form: `<account>/<YYYY-MM-DD>/<kind>/<category>/<item>[/<level>]`, the date being the period's first day for
monthly kinds and the day itself for daily fees. Names are percent-encoded so `/` stays a separator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import quote


def level_text(value: Decimal | int) -> str:
    """A canonical text for a level: 30, 30.0 and 30.00 all give "30"."""
    if isinstance(value, int):
        return str(value)
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def charge_key(account_id: str, on: date, kind: str, category: str, item: str, level: str | None = None) -> str:
    parts = [account_id, on.isoformat(), kind, quote(category, safe=""), quote(item, safe="")]
    if level is not None:
        parts.append(level)
    return "/".join(parts)
