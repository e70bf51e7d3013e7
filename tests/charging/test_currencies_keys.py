"""Resellers' currencies and billing days, deterministic keys, replays, state documents."""

import json
from datetime import date
from decimal import Decimal

from charging_support import ACCOUNT, Account, amounts, at, devices, trunks

from bookkeeper.charging import AccountFacts, BillingState, evaluate
from bookkeeper.settings import resolve_billing_settings


def test_eur_reseller_billing_day_15_in_berlin_under_usd_master():
    billing_settings = resolve_billing_settings(
        {"currency": "EUR", "billing_day": 15, "timezone": "Europe/Berlin"}, {"currency": "USD"}
    )
    acct = Account(billing_settings, balance=Decimal("100"))
    # Period Mar 15 .. Apr 15 (31 days); new on Mar 20 (k=6, 26 left): 12.50 x 26/31 = 10.4838 -> 10.48 EUR
    d = acct.run("2026-03-20T10:00:00Z", [devices(1, rate="12.50")])
    c = d.charges[0]
    assert amounts(d) == [("mrc", "-10.48")] and c.currency == "EUR" and c.factor == "26/31"
    assert c.period_start.date() == date(2026, 3, 15) and c.period_end.date() == date(2026, 4, 15)
    # Apr 2 is still the March period (k=19, 13 left): +12.50 x 13/31 = 5.2419 -> 5.24, keyed by the period start
    d = acct.run("2026-04-02T08:00:00Z", [devices(2, rate="12.50")])
    assert amounts(d) == [("prorate", "-5.24")]
    assert d.charges[0].key == f"{ACCOUNT}/2026-03-15/prorate/devices/sip_device/1-25"
    # Apr 14 23:30 UTC is Apr 15 01:30 in Berlin: the next period's MRC, 25.00
    assert amounts(acct.run("2026-04-14T23:30:00Z", [devices(2, rate="12.50")])) == [("mrc", "-25.00")]


def test_jpy_has_no_minor_unit():
    acct = Account.with_settings(balance="10000", currency="JPY")
    # 1000 x 22/31 = 709.677 -> 710
    assert amounts(acct.run("2026-03-10T00:00:00Z", [devices(1, rate="1000")])) == [("mrc", "-710")]


def test_same_evaluation_replayed_gives_same_keys_and_amounts():
    acct = Account.with_settings(balance="100")
    acct.run("2026-03-01T00:00:00Z", [devices(1, activation="3")])
    saved = acct.state
    facts = AccountFacts(acct.balance)
    first = evaluate(
        acct.billing_settings, ACCOUNT, saved, [devices(3, activation="3")], facts, at("2026-03-10T09:00:00Z")
    )
    # Crash: the charges were written, the state was not saved. The retry starts from the saved state,
    # later the same day, with the charges already in the balance: same keys, same amounts.
    paid = facts.balance + sum(c.signed for c in first.charges)
    again = evaluate(
        acct.billing_settings,
        ACCOUNT,
        BillingState.from_doc(json.loads(json.dumps(saved.to_doc()))),
        [devices(3, activation="3")],
        AccountFacts(paid),
        at("2026-03-10T09:05:00Z"),
    )
    assert [(c.key, c.amount) for c in again.charges] == [(c.key, c.amount) for c in first.charges]
    assert [c.kind for c in first.charges] == ["prorate", "activation"]


def test_state_document_round_trip():
    acct = Account.with_settings(balance="100", daily_categories=["limits"], timezone="America/New_York")
    acct.run("2026-03-01T05:00:00Z", [devices(2, removals=True, activation="1"), trunks(1)])
    acct.run("2026-03-05T05:00:00Z", [devices(1, removals=True, activation="1"), trunks(2)])
    doc = json.loads(json.dumps(acct.state.to_doc()))
    assert BillingState.from_doc(doc) == acct.state
    assert doc["levels"]["devices"]["sip_device"]["level"] == "10"
    assert doc["period"]["timezone"] == "America/New_York"


def test_charge_document_is_json():
    acct = Account.with_settings(balance="100")
    doc = json.loads(json.dumps(acct.run("2026-03-10T09:00:00Z", [devices(3)]).charges[0].to_doc()))
    assert (doc["kind"], doc["amount"], doc["factor"], doc["day"]) == ("mrc", "21.29", "22/31", 10)
    assert doc["period_start"] == "2026-03-01T00:00:00+00:00" and doc["rule_version"] == "charging-1"
