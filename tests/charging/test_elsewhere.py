"""An account another bookkeeper bills for a while (docs/charging.md "Another bookkeeper")."""

from dataclasses import replace

from charging_support import Account, amounts, devices, trunks

from bookkeeper.charging import missed_period_ends
from bookkeeper.charging.state import BillingState


def away(acct: Account, elsewhere: bool = True) -> None:
    acct.facts = replace(acct.facts, elsewhere=elsewhere)


def test_away_and_back_within_a_period_charges_the_rise_from_the_return_day_only():
    acct = Account.with_settings(balance="100")
    assert amounts(acct.run("2026-03-01T00:00:00Z", [devices(1, activation="2")])) == [("mrc", "-10.00")]
    away(acct)
    d = acct.run("2026-03-05T00:00:00Z", [devices(3, activation="2")])  # two devices while another bills
    assert d.charges == () and d.state.away and d.standing == "good_standing"
    assert acct.run("2026-03-19T00:00:00Z", [devices(3, activation="2")]).charges == ()
    away(acct, False)
    # Back on Mar 20 (k=20, 12 days left of 31): the rise 10 -> 30 from that day, 20 x 12/31 = 7.7419 -> 7.74;
    # the two devices were activated under the other bookkeeper: no activation charge.
    d = acct.run("2026-03-20T00:00:00Z", [devices(3, activation="2")])
    assert amounts(d) == [("prorate", "-7.74")] and not d.state.away
    assert acct.run("2026-03-21T00:00:00Z", [devices(4, activation="2")]).charges[1].kind == "activation"
    assert amounts(acct.run("2026-04-01T00:00:00Z", [devices(4, activation="2")])) == [("mrc", "-40.00")]


def test_away_over_a_period_start_pays_nothing_for_it_and_a_late_mrc_from_the_return_day():
    acct = Account.with_settings(balance="100", daily_categories=["limits"])
    items = [devices(1), trunks(1, rate="30")]  # 10.00 a month; trunks 1.00 a day in April
    acct.run("2026-03-01T00:00:00Z", items)
    away(acct)
    assert acct.run("2026-03-10T00:00:00Z", items).charges == ()
    assert acct.run("2026-04-01T00:00:00Z", items).charges == ()  # April's start: the other bookkeeper's
    assert missed_period_ends(acct.state, acct.state.period.end, acct.billing_settings) == []
    away(acct, False)
    # Back on Apr 11 (k=11 of 30): MRC 10 x 20/30 = 6.67; the trunk's fee for Apr 11 only (no missed days).
    d = acct.run("2026-04-11T00:00:00Z", items)
    assert amounts(d) == [("mrc", "-6.67"), ("daily", "-1.00")]
    assert acct.run("2026-04-11T12:00:00Z", items).charges == ()


def test_an_account_away_is_never_blocked_and_our_block_is_lifted():
    acct = Account.with_settings(balance="5")
    assert acct.run("2026-03-01T00:00:00Z", [devices(1)]).block  # MRC 10 > 5
    away(acct)
    d = acct.run("2026-03-02T00:00:00Z", [devices(1)])
    assert d.unblock and not d.block and d.charges == ()
    acct.balance -= 100  # KAZOO's own debits go on: still not ours to judge
    assert not acct.run("2026-03-03T00:00:00Z", [devices(1)]).block


def test_away_is_kept_in_the_state_document_only_when_set():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(1)])
    assert "away" not in acct.state.to_doc()
    away(acct)
    acct.run("2026-03-02T00:00:00Z", [devices(1)])
    assert BillingState.from_doc(acct.state.to_doc()).away
    assert BillingState.from_doc(acct.state.to_doc()).rolled_to(acct.state.period).away
