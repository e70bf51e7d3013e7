"""Activation charges above the period's high-water mark (docs/charging.md "Activation charges")."""

from charging_support import Account, amounts, devices


def dev(n):
    return devices(n, activation="5")


def test_activation_charged_once_per_unit_per_period():
    acct = Account.with_settings(balance="200")
    assert amounts(acct.run("2026-03-01T00:00:00Z", [dev(1)])) == [("mrc", "-10.00")]  # mark starts at 1
    # Mar 10: +2 devices: activation 2 x 5 = 10.00; prorate (30 - 10) x 22/31 = 14.19
    assert amounts(acct.run("2026-03-10T00:00:00Z", [dev(3)])) == [("prorate", "-14.19"), ("activation", "-10.00")]
    # Remove one, re-add it: below the mark of 3, and L = 30: nothing.
    assert amounts(acct.run("2026-03-11T00:00:00Z", [dev(2)])) == []
    assert amounts(acct.run("2026-03-12T00:00:00Z", [dev(3)])) == []
    # A 4th unit: activation 5.00; prorate (40 - 30) x 20/31 = 6.4516 -> 6.45 (k=12)
    d = acct.run("2026-03-12T01:00:00Z", [dev(4)])
    assert amounts(d) == [("prorate", "-6.45"), ("activation", "-5.00")]
    assert d.charges[1].quantity == 1 and d.charges[1].key.endswith("/activation/devices/sip_device/4")


def test_mark_restarts_each_period_at_first_evaluation():
    acct = Account.with_settings(balance="200")
    acct.run("2026-03-01T00:00:00Z", [dev(1)])
    acct.run("2026-03-31T00:00:00Z", [dev(2)])  # activation 5.00 in March
    assert ("activation", "-5.00") not in amounts(acct.run("2026-04-01T00:00:00Z", [dev(2)]))  # mark = 2
    # April: remove one and re-add it: still under the mark of 2.
    acct.run("2026-04-02T00:00:00Z", [dev(1)])
    assert amounts(acct.run("2026-04-03T00:00:00Z", [dev(2)])) == []


def test_jpy_activation_rounds_to_whole_yen():
    acct = Account.with_settings(balance="10000", currency="JPY")
    acct.run("2026-03-01T00:00:00Z", [devices(0, rate="1000", activation="99.5")])
    # 99.5 x 1 -> 100 (ROUND_HALF_UP, 0 digits); prorate 1000 x 22/31 = 709.677 -> 710
    d = acct.run("2026-03-10T00:00:00Z", [devices(1, rate="1000", activation="99.5")])
    assert amounts(d) == [("prorate", "-710"), ("activation", "-100")]
