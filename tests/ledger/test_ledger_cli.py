"""`bookkeeper ledger ...` as a user runs it, against the real test server."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bookkeeper.dbnames import modb
from cli import main


def run(server, *args, dialect="4.3"):
    return CliRunner().invoke(main, ["--couch-url", server.url, "ledger", *args],
                              env={"BOOKKEEPER_DIALECT": dialect})


def test_amount_with_too_many_digits_is_one_line_and_exit_2(server, account):
    result = run(server, "credit", account, "10.005", "--currency", "USD", "--reason", "wire_transfer",
                 "--description", "wire")
    assert result.exit_code == 2
    assert result.stderr == "error: AMOUNT: 10.005 has more than 2 decimal digits for USD\n"


def test_credit_debit_balance_list_correct_verify(server, couch, account):
    base = ["--currency", "USD", "--json"]
    paid = run(server, "credit", account, "25.50", "--reason", "wire_transfer", "--description", "wire 42",
               "--key", "wire:42", "--at", "2026-01-10T09:00:00Z", *base)
    assert paid.exit_code == 0, paid.output
    row = json.loads(paid.output)
    assert row["written"] is True and row["amount"] == 25.5 and row["db"] == modb(account, 2026, 1)
    again = run(server, "credit", account, "25.50", "--reason", "wire_transfer", "--description", "wire 42",
                "--key", "wire:42", "--at", "2026-02-03T09:00:00Z", *base)
    assert json.loads(again.output)["written"] is False
    debit = run(server, "debit", account, "5", "--reason", "admin_discretion", "--description", "fee",
                "--at", "2026-02-04T00:00:00Z", *base)
    fee_id = json.loads(debit.output)["id"]
    balance = json.loads(run(server, "balance", account, "--at", "2026-02-05", *base).output)
    assert balance == {"account": account, "balance": 20.5, "currency": "USD", "at": "2026-02-05"}
    listed = json.loads(run(server, "list", account, "--from", "2026-01-01", "--to", "2026-03-01",
                            "--kind", "payment", "--json").output)
    assert [(r["type"], r["amount"], r["reason"]) for r in listed] == [("credit", 25.5, "wire_transfer")]
    corrected = run(server, "correct", account, fee_id, "--description", "fee waived", "--json")
    assert corrected.exit_code == 0, corrected.output
    assert json.loads(run(server, "balance", account, "--currency", "USD", "--json").output)["balance"] == 25.5
    verified = run(server, "verify", account, "--json")
    assert verified.exit_code == 0 and json.loads(verified.output)["problems"] == []
    rolled = run(server, "rollover", "--month", "2026-02", "--account", account, "--json")
    assert json.loads(rolled.output) == {"month": "2026-02", "accounts": [account]}


def test_verify_exits_1_on_a_tampered_carry_forward(server, couch, account):
    assert run(server, "credit", account, "7", "--reason", "manual_addition", "--description", "x", "--currency",
               "USD", "--at", "2026-01-10", dialect="4.2").exit_code == 0
    assert run(server, "balance", account, "--at", "2026-02-10", "--currency", "USD", dialect="4.2").exit_code == 0
    run(server, "rollover", "--month", "2026-02", "--account", account, dialect="4.2")
    feb = couch.db(modb(account, 2026, 2))
    feb.put({**feb.get("monthly_rollup"), "pvt_amount": 1})
    result = run(server, "verify", account, dialect="4.2")
    assert result.exit_code == 1 and result.output == "202602: carry-forward is 0.0001 but 202601 closes at 7\n"
