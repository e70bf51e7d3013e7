"""Charging rules end to end: scenarios run by the simulator (real engine, real change feeds, real server).
Amounts are hand-computed in the comments."""

import uuid
from decimal import Decimal

import pytest
from simulation import money, run

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import modb
from bookkeeper.ledger.documents import INFO
from simulator.run import Simulation
from simulator.scenario import parse_scenario

PLAN = {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}
DEVICE = {"pvt_type": "device", "device_type": "sip_device"}


@pytest.mark.slow
def test_eur_reseller_billing_day_15_under_a_usd_master_across_calendar_months(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-14T00:00:00Z",
            "until": "2026-04-16T00:00:00Z",
            "resellers": {
                "master": {"settings": {"currency": "USD"}, "plans": {"wholesale": PLAN}},
                "euro": {
                    "settings": {"currency": "EUR", "billing_day": 15, "timezone": "Europe/Berlin"},
                    "plans": {"office": {"name": "Office", "plan": {"devices": {"sip_device": {"rate": 9}}}}},
                },
            },
            "accounts": {
                "euro": {"reseller": True, "plans": ["wholesale"], "balance": 50},
                "cafe": {"parent": "euro", "plans": ["office"], "balance": 100, "docs": [DEVICE]},
            },
            "events": [{"at": "2026-04-02T10:00:00Z", "account": "cafe", "create": DEVICE}],
        },
    )
    rows = [r for r in result["transactions"] if r["account"] == "cafe"]
    # period Feb 15 - Mar 15 (28 days), first seen Mar 14 (k = 28): 9 x 1/28 = 0.3214 -> 0.32
    # period Mar 15 - Apr 15 (31 days) starts 2026-03-14T23:00Z: MRC 9.00
    # Apr 2 is day 19: (18 - 9) x 13/31 = 3.774 -> 3.77 (written in April's DB, period started in March)
    # period Apr 15 (30 days) starts 2026-04-14T22:00Z (CEST): MRC 18.00
    assert [(r["at"], r["kind"], r["amount"]) for r in rows if r["type"] == "debit"] == [
        ("2026-03-14T00:00:00Z", "mrc", Decimal("0.32")),
        ("2026-03-14T23:00:00Z", "mrc", Decimal("9.00")),
        ("2026-04-02T10:00:00Z", "prorate", Decimal("3.77")),
        ("2026-04-14T22:00:00Z", "mrc", Decimal("18.00")),
    ]
    assert result["currency"] == {"euro": "USD", "cafe": "EUR"}
    assert result["balances"]["cafe"] == Decimal("68.91")  # 100 - 0.32 - 9 - 3.77 - 18
    # the reseller is billed by the master in USD on its own plan, whose item counts its own devices: none
    assert money(result["transactions"], account="euro", type="debit") == []
    # each charge exists once, in the monthly DB of the moment it was charged
    cafe = sim.ids["cafe"]
    march = list(_money_docs(sim.couch, modb(cafe, 2026, 3)))
    april = list(_money_docs(sim.couch, modb(cafe, 2026, 4)))
    assert len(march) == 3 and len(april) == 2  # opening credit + 2 MRCs; prorate + April MRC
    sim.remove()


def _money_docs(couch, name):
    rows = couch.db(name).all_docs(include_docs=True)
    return [
        r["doc"]
        for r in rows
        if r["doc"].get("pvt_type") == "ledger" and r["doc"].get("source", {}).get("service") != "rollovers"
    ]


@pytest.mark.slow
def test_insufficient_funds_block_then_a_credit_charges_the_late_mrc_and_unblocks(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-10T00:00:00Z",
            "resellers": {"master": {"settings": {}, "plans": {"basic": PLAN}}},
            "accounts": {"poor": {"plans": ["basic"], "balance": 5, "docs": [DEVICE]}},
            "events": [{"at": "2026-03-05T12:00:00Z", "account": "poor", "credit": 20}],
        },
    )
    # MRC 10 > 5: nothing charged, delinquent, blocked; the credit on day 5: 10 x 27/31 = 8.709 -> 8.71
    assert money(result["transactions"], kind="mrc") == [Decimal("8.71")]
    assert result["transactions"][-1]["at"] == "2026-03-05T12:00:00Z"
    assert result["balances"]["poor"] == Decimal("16.29")
    assert result["status"]["poor"] == "good_standing" and result["blocked"]["poor"] is False
    sim.remove()


def test_still_short_stays_blocked_and_delinquent(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-03T00:00:00Z",
            "resellers": {"master": {"settings": {}, "plans": {"basic": PLAN}}},
            "accounts": {"poor": {"plans": ["basic"], "balance": 5, "docs": [DEVICE]}},
        },
    )
    assert money(result["transactions"], type="debit") == []
    assert result["status"]["poor"] == "delinquent" and result["blocked"]["poor"] is True
    sim.remove()


@pytest.mark.slow
def test_a_trial_ending_mid_period_is_billed_from_its_last_day(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-20T00:00:00Z",
            "resellers": {
                "master": {
                    "settings": {},
                    "plans": {"basic": {"name": "B", "plan": {"devices": {"sip_device": {"rate": 31}}}}},
                }
            },
            "accounts": {
                "trial": {"plans": ["basic"], "balance": 100, "docs": [DEVICE], "trial_expires": "2026-03-11T00:00:00Z"}
            },
        },
    )
    # no charge before the 11th; from the 11th (day 11 of 31): 31 x 21/31 = 21.00
    debits = [(r["at"], r["amount"]) for r in result["transactions"] if r["type"] == "debit"]
    assert debits == [("2026-03-11T00:00:00Z", Decimal("21.00"))]
    sim.remove()


@pytest.mark.slow
def test_daily_fees_sum_to_exactly_the_monthly_total(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-04-01T00:00:00Z",
            "resellers": {"master": {"settings": {"daily_categories": ["devices"]}, "plans": {"basic": PLAN}}},
            "accounts": {"daily": {"plans": ["basic"], "balance": 100, "docs": [DEVICE]}},
        },
    )
    fees = money(result["transactions"], kind="daily")
    # R(10k/31) - R(10(k-1)/31): 31 fees of 0.32 or 0.33 adding up to exactly 10.00
    assert len(fees) == 31 and set(fees) == {Decimal("0.32"), Decimal("0.33")}
    assert sum(fees) == Decimal("10.00")
    assert result["balances"]["daily"] == Decimal("90.00")
    sim.remove()


@pytest.mark.slow
def test_remove_and_re_add_in_one_period_is_activated_once(server):
    plan = {"name": "A", "plan": {"devices": {"sip_device": {"rate": 10, "activation_charge": 5}}}}
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-20T00:00:00Z",
            "resellers": {"master": {"settings": {}, "plans": {"a": plan}}},
            "accounts": {"acme": {"plans": ["a"], "balance": 100, "docs": [DEVICE]}},
            "events": [
                {"at": "2026-03-05T10:00:00Z", "account": "acme", "create": DEVICE},
                {"at": "2026-03-06T10:00:00Z", "account": "acme", "delete": {"pvt_type": "device"}},
                {"at": "2026-03-07T10:00:00Z", "account": "acme", "create": DEVICE},
            ],
        },
    )
    # the 2nd device: activation 5.00 once, prorate (20-10) x 27/31 = 8.709 -> 8.71 once; re-adding costs nothing
    assert money(result["transactions"], kind="activation") == [Decimal("5.00")]
    assert money(result["transactions"], kind="prorate") == [Decimal("8.71")]
    sim.remove()


class KilledMidWrite(Exception):
    pass


def test_an_evaluator_killed_mid_write_and_replayed_writes_nothing_twice(server):
    plan = {"name": "Two", "plan": {"devices": {"sip_device": {"rate": 10}}, "users": {"user": {"rate": 7}}}}
    scenario = parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-02T00:00:00Z",
            "resellers": {"master": {"settings": {}, "plans": {"two": plan}}},
            "accounts": {
                "acme": {"plans": ["two"], "balance": 100, "docs": [DEVICE, {"pvt_type": "user", "priv_level": "user"}]}
            },
        },
        "test",
    )
    couch = Couch(server.url, namespace=f"kill{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(scenario, couch, load_config(env={}, couch_url=server.url))
    sim.build()
    acme, moment = sim.ids["acme"], scenario.start
    engine = sim.engine
    real_write = engine.ledger.write_charges

    def write_first_then_die(account_id, charges, currency, at, **kw):
        real_write(account_id, charges[:1], currency, at, **kw)
        raise KilledMidWrite

    engine.ledger.write_charges = write_first_then_die
    with pytest.raises(KilledMidWrite):
        engine.evaluate(acme, moment)
    engine.ledger.write_charges = real_write

    # a new evaluator (as after a restart) replays the same moment twice, then the day's tick runs too
    from bookkeeper.billing import BillingEngine

    restarted = BillingEngine(sim.couch, sim.config, sim.clock)
    restarted.evaluate(acme, moment)
    restarted.evaluate(acme, moment)
    restarted.tick(moment)
    docs = _money_docs(sim.couch, modb(acme, 2026, 3))
    debits = sorted(d["amount"] for d in docs if d["pvt_ledger_type"] == "debit")
    assert debits == [70000, 100000]  # users 7.00 and devices 10.00, each once
    assert restarted.ledger.balance(acme, moment) == Decimal("83.00")
    sim.remove()


@pytest.mark.slow
@pytest.mark.parametrize("dies_in", ["charges", "cancellation"])
def test_a_cancellation_of_trunks_is_written_ahead_and_survives_a_crash(server, dies_in):
    """40.00 cannot pay 10.00 + 24.95 for a device and a trunk: the trunk is cancelled and 10.00 charged. An
    evaluator that dies after saving that state, before the trunk is zeroed, must not leave the replay to find
    the trunk still there and charge a prorate for it."""
    plan = {
        "name": "Trunks",
        "plan": {"devices": {"sip_device": {"rate": 10}}, "limits": {"twoway_trunks": {"rate": 24.95}}},
    }
    scenario = parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-02T00:00:00Z",
            "resellers": {"master": {"settings": {}, "plans": {"trunks": plan}}},
            "accounts": {
                "acme": {"plans": ["trunks"], "balance": 30, "docs": [DEVICE], "limits": {"twoway_trunks": 1}}
            },
        },
        "test",
    )
    couch = Couch(server.url, namespace=f"cancel{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(scenario, couch, load_config(env={}, couch_url=server.url))
    sim.build()
    acme, moment = sim.ids["acme"], scenario.start
    engine = sim.engine

    def die(*args, **kw):
        raise KilledMidWrite

    if dies_in == "charges":
        engine.ledger.write_charges = die
    else:
        engine.directory.cancel_categories = die
    with pytest.raises(KilledMidWrite):
        engine.evaluate(acme, moment)

    from bookkeeper.billing import BillingEngine

    restarted = BillingEngine(sim.couch, sim.config, sim.clock)
    restarted.evaluate(acme, moment)
    restarted.evaluate(acme, moment)
    debits = [
        (d["amount"], d[INFO]["kind"])
        for d in _money_docs(sim.couch, modb(acme, 2026, 3))
        if d["pvt_ledger_type"] == "debit"
    ]
    assert debits == [(100000, "mrc")]  # the device's 10.00 once; no prorate for the cancelled trunk
    assert sim.couch.db(f"account/{acme[:2]}/{acme[2:4]}/{acme[4:]}").get("limits")["twoway_trunks"] == 0
    assert restarted.ledger.balance(acme, moment) == Decimal("20.00")
    sim.remove()
