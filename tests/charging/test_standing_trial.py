"""Standing, blocking, trials (docs/charging.md "Standing and blocking", "Trials")."""

from dataclasses import replace

from charging_support import Account, amounts, at, devices, trunks


def test_block_when_delinquent_and_unblock_when_funds_return():
    acct = Account.with_settings(balance="5")
    d = acct.run("2026-03-01T00:00:00Z", [devices(1)])  # MRC 10 > 5
    assert d.standing == "delinquent" and d.block and not d.unblock
    d = acct.run("2026-03-02T00:00:00Z", [devices(1)])  # still short: already blocked, no new block
    assert d.charges == () and not d.block and not d.unblock
    # Mar 3 (k=3, 29 left): +10 -> 15; MRC 10 x 29/31 = 9.3548 -> 9.35; unblocked
    d = acct.run("2026-03-03T00:00:00Z", [devices(1)], credit="10")
    assert amounts(d) == [("mrc", "-9.35")] and d.unblock and d.standing == "good_standing"
    assert d.state.standing == "good_standing"


def test_no_block_without_block_on_negative_and_our_block_lifted_when_turned_off():
    acct = Account.with_settings(balance="5", block_on_negative=False)
    d = acct.run("2026-03-01T00:00:00Z", [devices(1)])
    assert d.standing == "delinquent" and not d.block
    acct.facts = replace(acct.facts, blocked_by_us=True)
    assert acct.run("2026-03-02T00:00:00Z", [devices(1)]).unblock


def test_administrators_block_is_left_alone():
    acct = Account.with_settings(balance="5")
    acct.facts = replace(acct.facts, admin_blocked=True)
    d = acct.run("2026-03-01T00:00:00Z", [devices(1)])
    assert d.standing == "delinquent" and not d.block and not d.unblock
    d = acct.run("2026-03-02T00:00:00Z", [devices(1)], credit="100")
    assert d.standing == "good_standing" and not d.unblock
    # An admin block that also carries our marker is never lifted either.
    acct.facts = replace(acct.facts, blocked_by_us=True)
    assert not acct.run("2026-03-03T00:00:00Z", [devices(1)]).unblock


def test_trial_ending_mid_period():
    acct = Account.with_settings(balance="100", daily_categories=["limits"])
    acct.facts = replace(acct.facts, trial_expires=at("2026-03-10T12:00:00Z"))
    items = [devices(1), trunks(1, rate="31")]  # 10.00 a month; 1.00 a day in March
    d = acct.run("2026-03-01T00:00:00Z", items)
    assert d.charges == () and d.standing == "good_standing" and not acct.state.started
    assert acct.run("2026-03-10T11:59:59Z", [devices(3), trunks(2, rate="31")]).charges == ()
    # Expired Mar 10 at noon; first evaluation Mar 11: billed from Mar 10 like a new account.
    # MRC 10 x 22/31 = 7.0967 -> 7.10 (day 10); daily Mar 10 and Mar 11, 1.00 each. No activation.
    d = acct.run("2026-03-11T00:00:00Z", items)
    assert amounts(d) == [("mrc", "-7.10"), ("daily", "-1.00"), ("daily", "-1.00")]
    assert d.charges[0].factor == "22/31" and d.charges[0].day == 10
    assert acct.state.billing_from == 10


def test_trial_expiring_in_an_earlier_period_is_a_normal_new_account():
    acct = Account.with_settings(balance="100")
    acct.facts = replace(acct.facts, trial_expires=at("2026-02-20T00:00:00Z"))
    # Never billed before, first seen Mar 10: 10 x 22/31 = 7.10
    assert amounts(acct.run("2026-03-10T00:00:00Z", [devices(1)])) == [("mrc", "-7.10")]
