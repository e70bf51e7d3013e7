"""`bookkeeper ledger ...` as a user runs it, against the real test server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bookkeeper.dbnames import modb

from .conftest import one_error


def test_amount_with_too_many_digits_is_one_line_and_exit_2(shared_world):
    one_error(
        shared_world.cli(
            "ledger",
            "credit",
            shared_world.id("acme"),
            "10.005",
            "--currency",
            "USD",
            "--reason",
            "wire_transfer",
            "--description",
            "wire",
        ),
        "AMOUNT: 10.005 has more than 2 decimal digits for USD",
    )


def test_credit_debit_balance_list_correct_verify(world):
    acme = world.id("acme")
    run = lambda *args: world.cli("ledger", *args)  # noqa: E731
    base = ["--currency", "USD", "--json"]
    paid = run(
        "credit",
        acme,
        "25.50",
        "--reason",
        "wire_transfer",
        "--description",
        "wire 42",
        "--key",
        "wire:42",
        "--at",
        "2026-11-10T09:00:00Z",
        *base,
    )
    assert paid.exit_code == 0, paid.output
    row = json.loads(paid.output)
    assert row["written"] is True and row["amount"] == 25.5 and row["db"] == modb(acme, 2026, 11)
    again = run(
        "credit",
        acme,
        "25.50",
        "--reason",
        "wire_transfer",
        "--description",
        "wire 42",
        "--key",
        "wire:42",
        "--at",
        "2026-12-01T09:00:00Z",
        *base,
    )
    assert json.loads(again.output)["written"] is False
    debit = run(
        "debit",
        acme,
        "5",
        "--reason",
        "admin_discretion",
        "--description",
        "fee",
        "--at",
        "2026-12-01T10:00:00Z",
        *base,
    )
    fee_id = json.loads(debit.output)["id"]
    balance = json.loads(run("balance", acme, "--at", "2026-12-02", *base).output)
    assert balance == {"account": acme, "balance": 120.5, "currency": "USD", "at": "2026-12-02"}
    listed = json.loads(
        run("list", acme, "--from", "2026-11-01", "--to", "2026-12-02", "--kind", "payment", "--json").output
    )
    assert [(r["type"], r["amount"], r["reason"]) for r in listed] == [("credit", 25.5, "wire_transfer")]
    corrected = run("correct", acme, fee_id, "--description", "fee waived", "--json")
    assert corrected.exit_code == 0, corrected.output
    assert json.loads(run("balance", acme, "--currency", "USD", "--json").output)["balance"] == 125.5
    verified = run("verify", acme, "--json")
    assert verified.exit_code == 0 and json.loads(verified.output)["problems"] == []
    rolled = run("rollover", "--month", "2026-12", "--account", acme, "--json")
    assert json.loads(rolled.output) == {"month": "2026-12", "accounts": [acme]}


def test_verify_exits_1_on_a_tampered_carry_forward(make_world):
    world = make_world("4.2")
    acme = world.id("acme")
    assert (
        world.cli(
            "ledger", "credit", acme, "7", "--reason", "manual_addition", "--description", "x", "--at", "2026-11-10"
        ).exit_code
        == 0
    )
    assert world.cli("ledger", "balance", acme, "--at", "2026-12-02").exit_code == 0
    world.cli("ledger", "rollover", "--month", "2026-12", "--account", acme)
    dec = world.sim.couch.db(modb(acme, 2026, 12))
    dec.put({**dec.get("monthly_rollup"), "pvt_amount": 1})
    result = world.cli("ledger", "verify", acme)
    assert result.exit_code == 1 and result.output == "202612: carry-forward is 0.0001 but 202611 closes at 107\n"


def test_a_listing_to_a_moment_within_a_second_shows_that_seconds_entries(world):
    """Entries keep whole seconds (KAZOO's `pvt_created`): one written at 10:00:02.000 is listed up to 10:00:02.400,
    as `ledger list` right after `ledger credit` (its default `--to` is now) must show the credit."""
    acme = world.id("acme")
    second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    paid = world.cli(
        "ledger",
        "credit",
        acme,
        "1.50",
        "--reason",
        "wire_transfer",
        "--description",
        "wire",
        "--at",
        second.isoformat(),
        "--json",
    )
    assert paid.exit_code == 0, paid.output
    listed = json.loads(
        world.cli(
            "ledger",
            "list",
            acme,
            "--from",
            second.isoformat(),
            "--to",
            (second + timedelta(milliseconds=400)).isoformat(),
            "--json",
        ).output
    )
    assert [(r["id"], r["amount"]) for r in listed] == [(json.loads(paid.output)["id"], 1.5)]
