"""Daily items (docs/charging.md "Daily items"): cumulative rounding, same-day rises, missed days, DST days."""

from datetime import date, timedelta
from decimal import Decimal

from charging_support import Account, amounts, trunks
from hypothesis import given, settings
from hypothesis import strategies as st

from bookkeeper.charging import daily_fee


def daily_account(balance="100", **kw):
    return Account.with_settings(balance=balance, daily_categories=["limits"], **kw)


def test_daily_fee_cumulative_rounding():
    acct = daily_account()
    # T = 10, N = 31: day 1 R(10/31) = R(0.3226) = 0.32; day 2 R(20/31) - 0.32 = 0.65 - 0.32 = 0.33;
    # day 3 R(30/31) - R(20/31) = 0.97 - 0.65 = 0.32
    assert amounts(acct.run("2026-03-01T00:00:00Z", [trunks(1)])) == [("daily", "-0.32")]
    assert amounts(acct.run("2026-03-02T00:00:00Z", [trunks(1)])) == [("daily", "-0.33")]
    assert amounts(acct.run("2026-03-03T00:00:00Z", [trunks(1)])) == [("daily", "-0.32")]


def test_same_day_rise_charged_at_once_never_refunded():
    acct = daily_account()
    acct.run("2026-03-01T00:00:00Z", [trunks(1)])
    acct.run("2026-03-02T00:00:00Z", [trunks(1)])
    assert amounts(acct.run("2026-03-03T00:00:00Z", [trunks(1)])) == [("daily", "-0.32")]
    # Peak 2 (T = 20): day 3 fee R(60/31) - R(40/31) = 1.94 - 1.29 = 0.65; already 0.32 -> 0.33 more
    d = acct.run("2026-03-03T10:00:00Z", [trunks(2)])
    assert amounts(d) == [("daily", "-0.33")]
    assert d.charges[0].key.endswith("/2026-03-03/daily/limits/twoway_trunks/0.65")
    assert amounts(acct.run("2026-03-03T11:00:00Z", [trunks(1)])) == []  # down: nothing back
    assert amounts(acct.run("2026-03-03T12:00:00Z", [trunks(2)])) == []  # back to the peak: already paid
    # Day 4 at the current quantity 2: R(80/31) - R(60/31) = 2.58 - 1.94 = 0.64
    assert amounts(acct.run("2026-03-04T00:00:00Z", [trunks(2)])) == [("daily", "-0.64")]


def test_daily_fees_charged_whatever_the_balance():
    acct = daily_account(balance="0", block_on_negative=False)
    d = acct.run("2026-03-01T00:00:00Z", [trunks(1, rate="31")])  # 31 x 1/31 = 1.00
    assert amounts(d) == [("daily", "-1.00")] and d.standing == "delinquent"
    assert amounts(acct.run("2026-03-02T00:00:00Z", [trunks(1, rate="31")])) == [("daily", "-1.00")]


def test_missed_days_charged_at_next_evaluation():
    acct = daily_account()
    acct.run("2026-03-01T00:00:00Z", [trunks(1, rate="31")])
    d = acct.run("2026-03-04T10:00:00Z", [trunks(2, rate="31")])
    # Mar 2 and 3 at the last billed quantity (1 -> 1.00 each), Mar 4 at today's (2 -> 2.00)
    assert amounts(d) == [("daily", "-1.00"), ("daily", "-1.00"), ("daily", "-2.00")]
    assert [c.key.split("/")[1] for c in d.charges] == ["2026-03-02", "2026-03-03", "2026-03-04"]


def test_no_fee_on_days_blocked_by_us_all_day():
    acct = daily_account(balance="0.50")
    item = [trunks(1, rate="31")]  # 1.00 a day in March
    d = acct.run("2026-03-01T00:00:00Z", item)
    assert amounts(d) == [("daily", "-1.00")] and d.block  # -0.50
    d = acct.run("2026-03-02T00:00:00Z", item)  # blocked all of Mar 2: nothing
    assert d.charges == () and d.standing == "delinquent" and not d.block and not d.unblock
    assert acct.run("2026-03-03T00:00:00Z", item).charges == ()
    # Mar 3 15:00: 5.00 arrives (4.50): unblocked, and Mar 3 is charged; Mar 2 never is.
    d = acct.run("2026-03-03T15:00:00Z", item, credit="5.00")
    assert amounts(d) == [("daily", "-1.00")] and d.unblock and d.standing == "good_standing"
    assert amounts(acct.run("2026-03-04T00:00:00Z", item)) == [("daily", "-1.00")]
    assert acct.balance == Decimal("2.50")


def test_blocked_account_not_unblocked_when_today_fee_is_unaffordable():
    acct = daily_account(balance="0.50")
    item = [trunks(1, rate="31")]
    acct.run("2026-03-01T00:00:00Z", item)  # -0.50, blocked
    d = acct.run("2026-03-02T09:00:00Z", item, credit="1.00")  # 0.50 >= 0, but the day would cost 1.00
    assert d.charges == () and d.standing == "delinquent" and not d.unblock


def test_dst_days_in_berlin():
    acct = daily_account(timezone="Europe/Berlin")
    item = [trunks(1, rate="31")]
    acct.run("2026-03-28T23:00:00Z", item)  # 00:00 CET Mar 29: day 29, 1.00
    assert acct.run("2026-03-29T21:30:00Z", item).charges == ()  # 23:30 CEST, still Mar 29
    d = acct.run("2026-03-29T22:00:00Z", item)  # 00:00 CEST Mar 30
    assert [(c.day, c.key.split("/")[1]) for c in d.charges] == [(30, "2026-03-30")]


def test_dst_fall_back_in_new_york():
    acct = daily_account(timezone="America/New_York")
    item = [trunks(1, rate="30")]  # November: 30 days, 1.00 a day
    assert len(acct.run("2026-11-01T04:00:00Z", item).charges) == 1  # 00:00 EDT Nov 1
    assert acct.run("2026-11-02T04:30:00Z", item).charges == ()  # 23:30 EST, still Nov 1 (25-hour day)
    assert amounts(acct.run("2026-11-02T05:00:00Z", item)) == [("daily", "-1.00")]


PERIOD_STARTS = {28: "2026-02-01", 29: "2028-02-01", 30: "2026-04-01", 31: "2026-03-01"}


@settings(max_examples=60, deadline=None)
@given(total=st.decimals(min_value=0, max_value=100000, places=2), days=st.sampled_from([28, 29, 30, 31]))
def test_daily_fees_sum_to_exactly_t_over_a_period(total, days):
    acct = daily_account(balance="0", block_on_negative=False)
    first = date.fromisoformat(PERIOD_STARTS[days])
    item = [trunks(1, total=total)]
    for k in range(days):
        acct.run(f"{first + timedelta(days=k)}T00:00:00Z", item)
    assert acct.state.period.days == days
    assert sum((c.amount for c in acct.written), Decimal(0)) == total
    assert all(c.amount > 0 for c in acct.written)


@given(total=st.decimals(min_value=0, max_value=1000, places=6), days=st.integers(28, 31))
def test_daily_fee_formula_telescopes_to_rounded_t(total, days):
    fees = [daily_fee(total, k, days, "USD") for k in range(1, days + 1)]
    assert sum(fees) == total.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert all(f >= 0 for f in fees)
