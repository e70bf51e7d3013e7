"""Periods, day indices and day starts in a reseller's time zone; the real and the simulated clock.

Days start at 00:00 local time; a period starts at 00:00 of `billing_day` (1..28) and ends at the next one
(docs/charging.md "Periods and days"). Everything works on local calendar dates, so DST changes (23- or 25-hour days)
never shift a boundary. Where 00:00 does not exist (a DST gap at midnight), the day starts at the gap.
All datetimes are aware; comparisons go through UTC. Returned day and period starts are in the zone: subtract
them through `.timestamp()`, since Python subtracts same-zone datetimes as wall times (a DST day shows 24 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    """A ZoneInfo from an IANA name (or the ZoneInfo itself). Raises ValueError for an unknown zone."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown IANA time zone: {tz!r}") from None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: give a time zone")
    return moment


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """00:00 of `day` in `tz` (fold 0: a midnight in a DST gap resolves to the gap's instant)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).astimezone(tz)


def local_date(moment: datetime, tz: str | ZoneInfo) -> date:
    """The calendar date of `moment` in `tz`."""
    return _aware(moment).astimezone(zone(tz)).date()


def day_start(moment: datetime, tz: str | ZoneInfo) -> datetime:
    """00:00 local of the day containing `moment`."""
    z = zone(tz)
    return _local_midnight(local_date(moment, z), z)


def next_day_start(moment: datetime, tz: str | ZoneInfo) -> datetime:
    """00:00 local of the day after the one containing `moment`."""
    z = zone(tz)
    return _local_midnight(local_date(moment, z) + timedelta(days=1), z)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def _check_billing_day(billing_day: int) -> int:
    if not isinstance(billing_day, int) or isinstance(billing_day, bool) or not 1 <= billing_day <= 28:
        raise ValueError(f"billing_day must be 1..28, got {billing_day!r}")
    return billing_day


@dataclass(frozen=True)
class Period:
    """One billing period: [start, end), both 00:00 local in the reseller's zone; `days` = N (28..31)."""

    start: datetime
    end: datetime
    days: int

    @property
    def tz(self) -> ZoneInfo:
        tz = self.start.tzinfo
        if not isinstance(tz, ZoneInfo):
            raise TypeError(f"a period starts in a named time zone, not {tz!r}")
        return tz

    @property
    def start_date(self) -> date:
        return self.start.date()

    @property
    def last_date(self) -> date:
        """The local date of the period's last day."""
        return self.end.date() - timedelta(days=1)

    def contains(self, moment: datetime) -> bool:
        return self.start.timestamp() <= _aware(moment).timestamp() < self.end.timestamp()

    def date_of_day(self, k: int) -> date:
        """The local date of day `k` (1-based)."""
        if not 1 <= k <= self.days:
            raise ValueError(f"day {k} is outside a {self.days}-day period")
        return self.start_date + timedelta(days=k - 1)

    def to_doc(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "timezone": self.tz.key,
        }

    @classmethod
    def from_doc(cls, doc: dict) -> Period:
        tz = zone(doc["timezone"])
        start = datetime.fromisoformat(doc["start"]).astimezone(tz)
        end = datetime.fromisoformat(doc["end"]).astimezone(tz)
        return cls(start, end, int(doc["days"]))


def period_containing(moment: datetime, billing_day: int, tz: str | ZoneInfo) -> Period:
    """The period that contains `moment` for a reseller billing on `billing_day` in zone `tz`."""
    z = zone(tz)
    today = local_date(moment, z)
    first = date(today.year, today.month, _check_billing_day(billing_day))
    if today < first:
        first = _add_months(first, -1)
    following = _add_months(first, 1)
    return Period(_local_midnight(first, z), _local_midnight(following, z), (following - first).days)


def next_period_start(moment: datetime, billing_day: int, tz: str | ZoneInfo) -> datetime:
    """00:00 local of the billing day that starts the period after the one containing `moment`."""
    return period_containing(moment, billing_day, tz).end


def day_index(moment: datetime, period: Period) -> int:
    """k: the 1-based index, within `period`, of the day containing `moment`."""
    if not period.contains(moment):
        raise ValueError(f"{moment.isoformat()} is outside the period starting {period.start.isoformat()}")
    return (local_date(moment, period.tz) - period.start_date).days + 1


class Clock(Protocol):
    """Where the daemon and the simulator get the time from."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock the simulator sets. It only moves forward."""

    def __init__(self, start: datetime):
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if _aware(moment).timestamp() < self._now.timestamp():
            raise ValueError(f"the clock cannot go back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
