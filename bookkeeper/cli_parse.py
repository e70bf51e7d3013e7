"""Parsing what people type on the command line: times and dates."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from .errors import InputError

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # far from datetime's end: periods and months ahead still fit


def parse_time(text: str, where: str, zone: tzinfo = UTC) -> datetime:
    """An ISO-8601 time or date. A date is 00:00 and a time without an offset is wall-clock time, both in `zone`
    (the reseller's time zone: people mean their days); a time with an offset is that instant. Only dates the
    arithmetic can hold pass (the ledger bounds them further: `Ledger.check_date`)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(where, None, f"not an ISO-8601 date or time: {text!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    try:
        held = EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:
        held = False
    if not held:
        raise InputError(where, None, f"{text} is outside {EARLIEST.date()} .. {LATEST.date()}")
    return moment
