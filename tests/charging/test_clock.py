"""Periods, day indices and day starts in a zone (docs/charging.md "Periods and days")."""

from datetime import UTC, date, datetime, timedelta

import pytest
from charging_support import at

from bookkeeper.clock import (
    Period,
    SimulatedClock,
    SystemClock,
    day_index,
    day_start,
    next_day_start,
    next_period_start,
    period_containing,
)


def test_31_day_period_on_billing_day_1():
    p = period_containing(at("2026-03-10T09:00:00Z"), 1, "UTC")
    assert (p.start, p.end, p.days) == (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), 31)
    assert day_index(at("2026-03-10T09:00:00Z"), p) == 10  # 22 days left including today: 31 - 10 + 1


def test_28_day_period_in_february():
    p = period_containing(at("2026-02-28T23:59:59Z"), 1, "UTC")
    assert (p.start_date, p.days) == (date(2026, 2, 1), 28)
    assert day_index(at("2026-02-28T23:59:59Z"), p) == 28


def test_billing_day_15_period_crosses_a_calendar_month():
    p = period_containing(at("2026-04-02T10:00:00Z"), 15, "UTC")
    assert (p.start_date, p.end.date(), p.days) == (date(2026, 3, 15), date(2026, 4, 15), 31)
    assert day_index(at("2026-04-02T10:00:00Z"), p) == 19  # Mar 15..31 = 17 days, Apr 2 is the 19th
    assert period_containing(at("2026-03-14T23:59:59Z"), 15, "UTC").days == 28  # Feb 15 .. Mar 15
    assert p.last_date == date(2026, 4, 14)


def test_billing_day_15_in_january_starts_in_december():
    p = period_containing(at("2026-01-03T00:00:00Z"), 15, "UTC")
    assert (p.start_date, p.days) == (date(2025, 12, 15), 31)


def test_berlin_period_starts_at_local_midnight():
    p = period_containing(at("2026-02-28T23:30:00Z"), 1, "Europe/Berlin")  # 00:30 CET on March 1st
    assert p.start.astimezone(UTC) == at("2026-02-28T23:00:00Z")
    assert p.end.astimezone(UTC) == at("2026-03-31T22:00:00Z")  # April starts in CEST (+02:00)
    assert p.days == 31


def test_berlin_dst_day_is_23_hours_and_indices_follow_local_dates():
    p = period_containing(at("2026-03-29T12:00:00Z"), 1, "Europe/Berlin")
    start = day_start(at("2026-03-29T12:00:00Z"), "Europe/Berlin")
    end = next_day_start(at("2026-03-29T12:00:00Z"), "Europe/Berlin")
    assert start.astimezone(UTC) == at("2026-03-28T23:00:00Z")  # 00:00 CET
    assert end.astimezone(UTC) == at("2026-03-29T22:00:00Z")  # 00:00 CEST
    assert end.timestamp() - start.timestamp() == 23 * 3600  # same-zone subtraction would say 24 h
    assert day_index(at("2026-03-29T21:59:59Z"), p) == 29
    assert day_index(at("2026-03-29T22:00:00Z"), p) == 30  # a naive UTC-day count would still say 29


def test_new_york_fall_back_day_is_25_hours():
    p = period_containing(at("2026-11-02T04:30:00Z"), 1, "America/New_York")  # 23:30 EST on Nov 1st
    assert day_index(at("2026-11-02T04:30:00Z"), p) == 1
    start = day_start(at("2026-11-01T12:00:00Z"), "America/New_York")
    assert next_day_start(start, "America/New_York").timestamp() - start.timestamp() == 25 * 3600


def test_midnight_in_a_dst_gap_starts_the_day_at_the_gap():
    # America/Santiago jumps from 00:00 to 01:00 on 2026-09-06: that day starts at 01:00 -03 = 04:00 UTC.
    start = day_start(at("2026-09-06T12:00:00Z"), "America/Santiago")
    assert start.astimezone(UTC) == at("2026-09-06T04:00:00Z")
    assert start.date() == date(2026, 9, 6)


def test_next_period_start_and_outside_moments():
    assert next_period_start(at("2026-03-15T00:00:00Z"), 15, "UTC") == at("2026-04-15T00:00:00Z")
    p = period_containing(at("2026-03-15T00:00:00Z"), 15, "UTC")
    with pytest.raises(ValueError):
        day_index(at("2026-04-15T00:00:00Z"), p)
    with pytest.raises(ValueError):
        period_containing(at("2026-03-15T00:00:00Z"), 29, "UTC")
    with pytest.raises(ValueError):
        period_containing(datetime(2026, 3, 15), 1, "UTC")
    with pytest.raises(ValueError):
        period_containing(at("2026-03-15T00:00:00Z"), 1, "Mars/Olympus")


def test_period_doc_round_trip():
    p = period_containing(at("2026-03-29T12:00:00Z"), 1, "Europe/Berlin")
    assert Period.from_doc(p.to_doc()) == p
    assert p.to_doc()["timezone"] == "Europe/Berlin"


def test_simulated_clock_only_moves_forward():
    clock = SimulatedClock(at("2026-03-01T00:00:00Z"))
    clock.advance(timedelta(days=1))
    assert clock.now() == at("2026-03-02T00:00:00Z")
    clock.set(at("2026-03-10T09:00:00Z"))
    assert clock.now() == at("2026-03-10T09:00:00Z")
    with pytest.raises(ValueError):
        clock.set(at("2026-03-09T00:00:00Z"))
    assert SystemClock().now().tzinfo is not None
