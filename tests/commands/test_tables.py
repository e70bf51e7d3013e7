"""`billing run` and `billing explain` for people: debit or credit, the day each row belongs to, totals, each
account's standing; an empty run says "nothing due" (issue 19.12)."""

from __future__ import annotations

import json

AT = "2026-12-02T12:00:00Z"


def test_a_run_shows_each_charge_its_day_the_standing_and_the_totals(world):
    acme, daily = world.id("acme"), world.id("daily")
    run = world.cli("billing", "run", "--account", acme, "--at", AT)
    assert run.exit_code == 0, run.stderr
    assert run.output.splitlines() == [
        f"date        account{' ' * 27}type   kind  category  item        quantity  factor  amount  currency",
        f"2026-12-02  {acme}  debit  mrc   devices   sip_device  1         30/31   9.68    USD",
        "",
        f"account{' ' * 27}standing       charges  debits  credits  written",
        f"{acme}  good_standing  1        9.68    0.00     1",
        "total: debits 9.68 USD, credits 0.00 USD, net -9.68 USD",
    ]
    days = world.cli("billing", "run", "--account", daily, "--at", AT, "--json")
    [charge] = json.loads(days.output)["accounts"][0]["charges"]
    assert (charge["date"], charge["type"], charge["kind"], charge["amount"]) == ("2026-12-02", "debit", "daily", 1)


def test_an_empty_run_says_nothing_due(world):
    euro = world.id("euro")
    run = world.cli("billing", "run", "--account", euro, "--at", AT, "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert run.output.splitlines() == [
        "nothing due",
        "",
        f"account{' ' * 27}standing       charges  debits  credits  written",
        f"{euro}  good_standing  0        0       0        0",
        "dry run: nothing written",
    ]


def test_explain_shows_the_days_the_types_the_totals_and_the_standing(world):
    daily = world.id("daily")
    for at in ("2026-12-01T12:00:00Z", AT):
        assert world.cli("billing", "run", "--account", daily, "--at", at).exit_code == 0
    assert (
        world.cli(
            "ledger",
            "credit",
            daily,
            "5",
            "--reason",
            "wire_transfer",
            "--description",
            "wire",
            "--at",
            "2026-12-02T13:00:00Z",
        ).exit_code
        == 0
    )
    explained = world.cli("billing", "explain", daily, "--period", "2026-12-02")
    assert explained.exit_code == 0, explained.stderr
    assert explained.output.splitlines() == [
        "period 2026-12-01 .. 2026-12-31 (31 days, America/New_York), USD, good_standing",
        "date        type    kind     category  item        quantity  rate  factor  amount",
        "2026-12-01  debit   daily    devices   sip_device  1         31    1/31    1.00",
        "2026-12-02  debit   daily    devices   sip_device  1         31    1/31    1.00",
        "2026-12-02  credit  payment                                                5.00",
        "total: debits 2.00 USD, credits 5.00 USD, net 3.00 USD",
    ]
    report = json.loads(world.cli("billing", "explain", daily, "--period", "2026-12-02", "--json").output)
    assert report["totals"] == {"debits": 2, "credits": 5, "net": 3} and report["standing"] == "good_standing"
