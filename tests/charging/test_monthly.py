"""Monthly items: MRC, late MRC, increases, tier changes, decreases, prorate flags (docs/charging.md)."""

from decimal import Decimal

from charging_support import Account, amounts, devices, item, trunks

from bookkeeper.charging import DELINQUENT, GOOD_STANDING


def test_golden_simulate_basic_charges():
    acme = Account.with_settings(balance="100.00", currency="USD", billing_day=1)
    # 03-01: MRC for 1 device at 10.00, full period.
    assert amounts(acme.run("2026-03-01T00:00:00Z", [devices(1)])) == [("mrc", "-10.00")]
    # 03-10 (k=10, N=31, 22 days left): 1 -> 3 devices, T 10 -> 30: (30-10) x 22/31 = 14.1935... -> 14.19
    d = acme.run("2026-03-10T09:00:00Z", [devices(3)])
    assert amounts(d) == [("prorate", "-14.19")] and d.charges[0].factor == "22/31"
    # 03-12: 3 -> 2 devices: no refund, L stays 30.
    assert amounts(acme.run("2026-03-12T09:00:00Z", [devices(2)])) == []
    assert acme.run("2026-03-20T12:00:00Z", [devices(2)], credit="50.00").charges == ()
    # 04-01: MRC at the quantities of that moment: 2 x 10 = 20.00.
    d = acme.run("2026-04-01T00:00:00Z", [devices(2)])
    assert amounts(d) == [("mrc", "-20.00")] and d.charges[0].factor == "30/30"
    assert acme.balance == Decimal("105.81") and d.standing == GOOD_STANDING  # 100 - 10 - 14.19 + 50 - 20


def test_increase_in_a_28_day_period():
    acct = Account.with_settings(balance="100")
    acct.run("2026-02-01T00:00:00Z", [devices(1)])
    # Feb 15 (k=15, N=28, 14 days left): (20 - 10) x 14/28 = 5.00
    assert amounts(acct.run("2026-02-15T08:00:00Z", [devices(2)])) == [("prorate", "-5.00")]


def test_tier_change_on_increase():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(2, total="20")])  # 2 x 10 in the first tier
    # The third device moves all three to the 12.00 tier: T = 36. (36 - 20) x 22/31 = 11.3548... -> 11.35
    assert amounts(acct.run("2026-03-10T00:00:00Z", [devices(3, rate="12")])) == [("prorate", "-11.35")]


def test_decrease_never_refunded_and_readd_costs_nothing():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(3)])  # MRC 30.00, L = 30
    assert amounts(acct.run("2026-03-05T00:00:00Z", [devices(1)])) == []
    assert amounts(acct.run("2026-03-06T00:00:00Z", [devices(3)])) == []  # back to L: nothing
    # Above L only: (40 - 30) x 26/31 = 8.387... -> 8.39 (k=6, 26 days left)
    assert amounts(acct.run("2026-03-06T01:00:00Z", [devices(4)])) == [("prorate", "-8.39")]


def test_prorate_removals_credit_then_readd():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(3, removals=True)])  # MRC 30.00
    # Mar 17 (k=17, 15 left): credit (30 - 20) x 15/31 = 4.8387 -> 4.84; L = 20
    d = acct.run("2026-03-17T00:00:00Z", [devices(2, removals=True)])
    assert amounts(d) == [("prorate_credit", "4.84")] and d.charges[0].type == "credit"
    # Mar 20 (k=20, 12 left): re-add: (30 - 20) x 12/31 = 3.8709 -> 3.87, under a new key
    d = acct.run("2026-03-20T00:00:00Z", [devices(3, removals=True)])
    assert amounts(d) == [("prorate", "-3.87")]
    assert d.charges[0].key.endswith("/prorate/devices/sip_device/2-30")
    assert acct.state.levels[("devices", "sip_device")].net == Decimal("29.03")  # 30 - 4.84 + 3.87


def test_prorate_removals_credit_capped_at_net_charged():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [])  # nothing to pay: the MRC is settled at 0
    # k=20, 12/31: each +0.01 costs R(0.01 x 12/31) = R(0.00387) = 0.00, so nothing is charged ...
    acct.run("2026-03-20T00:00:00Z", [devices(1, rate="0.01", removals=True)])
    acct.run("2026-03-20T01:00:00Z", [devices(2, rate="0.01", removals=True)])
    # ... and removing both would credit R(0.02 x 12/31) = R(0.00774) = 0.01: capped at the 0.00 charged.
    assert amounts(acct.run("2026-03-20T02:00:00Z", [devices(0, rate="0.01", removals=True)])) == []
    assert acct.state.levels[("devices", "sip_device")].level == 0


def test_prorate_additions_false_waits_for_next_mrc():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(1, additions=False)])
    assert amounts(acct.run("2026-03-10T00:00:00Z", [devices(3, additions=False)])) == []
    assert acct.state.levels[("devices", "sip_device")].level == Decimal(10)
    assert amounts(acct.run("2026-04-01T00:00:00Z", [devices(3, additions=False)])) == [("mrc", "-30.00")]


def test_new_account_mid_period_pays_prorated_mrc():
    acct = Account.with_settings(balance="100")
    # First seen Mar 10: 30 x 22/31 = 21.2903 -> 21.29
    d = acct.run("2026-03-10T15:00:00Z", [devices(3)])
    assert amounts(d) == [("mrc", "-21.29")] and d.charges[0].factor == "22/31"
    flat = Account.with_settings(balance="100", prorate_late_mrc=False)
    assert amounts(flat.run("2026-03-10T15:00:00Z", [devices(3)])) == [("mrc", "-30.00")]


def test_continuing_account_first_seen_late_still_pays_full_mrc():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-31T00:00:00Z", [devices(1)])  # new in March: 10 x 1/31 = 0.32
    # The daemon was down over April 1st: the April MRC is due from day 1, not prorated.
    assert amounts(acct.run("2026-04-03T00:00:00Z", [devices(1)])) == [("mrc", "-10.00")]


def test_mrc_all_or_nothing_cancels_limits_then_retries():
    acct = Account.with_settings(balance="5")
    calls = []

    def reprice(categories):
        calls.append(categories)
        return [devices(1), trunks(0)]

    # Needs 10 + 20 = 30; without trunks still 10 > 5: nothing charged, delinquent, blocked, limits cancelled.
    d = acct.run("2026-03-01T00:00:00Z", [devices(1), trunks(2)], reprice=reprice)
    assert d.charges == () and d.standing == DELINQUENT and d.block
    assert d.cancel_categories == frozenset({"limits"}) and calls == [frozenset({"limits"})]
    assert not acct.state.mrc_paid
    # Mar 5 (k=5, 27 left): 20.00 credited; the MRC is retried, late: 10 x 27/31 = 8.7096 -> 8.71. Unblocked.
    d = acct.run("2026-03-05T10:00:00Z", [devices(1), trunks(0)], credit="20")
    assert amounts(d) == [("mrc", "-8.71")] and d.unblock and d.standing == GOOD_STANDING
    assert d.cancel_categories == frozenset()


def test_cancellation_makes_the_mrc_affordable():
    acct = Account.with_settings(balance="15")
    d = acct.run("2026-03-01T00:00:00Z", [devices(1), trunks(2)])  # 30 > 15; without trunks 10 <= 15
    assert amounts(d) == [("mrc", "-10.00")] and d.cancel_categories == frozenset({"limits"})
    assert d.standing == GOOD_STANDING and not d.block
    # A trunk added back later is an ordinary increase: 10 x 22/31 = 7.0967 -> 7.10
    assert amounts(acct.run("2026-03-10T00:00:00Z", [devices(1), trunks(1)])) == [("prorate", "-7.10")]


def test_increases_wait_while_mrc_unpaid():
    acct = Account.with_settings(balance="5", block_on_negative=False)
    d = acct.run("2026-03-01T00:00:00Z", [devices(1)])
    assert d.charges == () and d.standing == DELINQUENT and not d.block
    assert acct.run("2026-03-02T00:00:00Z", [devices(2)]).charges == ()


def test_postpay_allowance_counts_as_funds():
    from dataclasses import replace

    acct = Account.with_settings(balance="0")
    acct.facts = replace(acct.facts, postpay_allowed=True, max_postpay=Decimal("50"))
    d = acct.run("2026-03-01T00:00:00Z", [devices(3)])
    assert amounts(d) == [("mrc", "-30.00")] and d.standing == GOOD_STANDING
    assert d.available_after == Decimal("20.00") and acct.balance == Decimal("-30.00")


def test_daily_category_items_are_not_in_the_mrc():
    acct = Account.with_settings(balance="100", daily_categories=["limits"])
    d = acct.run("2026-03-01T00:00:00Z", [devices(1), item("limits", "twoway_trunks", 1, "31")])
    assert amounts(d) == [("mrc", "-10.00"), ("daily", "-1.00")]  # 31 x 1/31
