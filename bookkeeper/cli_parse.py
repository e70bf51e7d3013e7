"""Parsing what people type on the command line: times and dates."""

from __future__ import annotations

from datetime import datetime, timezone

from .errors import InputError


def parse_time(text: str, where: str) -> datetime:
    """An ISO-8601 time or date; a date means 00:00 UTC; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(where, None, f"not an ISO-8601 date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
