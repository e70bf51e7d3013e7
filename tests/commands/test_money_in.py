"""Money an operator brings in: the account's currency only, idempotency keys per account, amounts within bounds
(issues 19.2, 19.3, 19.8, 20.11)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bookkeeper.dbnames import account_db
from bookkeeper.errors import InputError
from bookkeeper.ledger.documents import marker_id

from .conftest import one_error

WIRE = ("--reason", "wire_transfer", "--description", "wire")


def balance(world, label: str) -> Decimal:
    shown = world.cli("ledger", "balance", world.id(label), "--json")
    assert shown.exit_code == 0, shown.stderr
    return Decimal(str(json.loads(shown.output)["balance"]))


def test_a_credit_in_another_currency_is_refused_and_not_booked(world):
    acme = world.id("acme")
    result = world.cli("ledger", "credit", acme, "10", "--currency", "EUR", *WIRE)
    one_error(result, f"--currency: EUR is not the currency of account {acme} (USD); money is never converted")
    one_error(
        world.cli("ledger", "debit", acme, "10", "--currency", "EUR", *WIRE),
        f"--currency: EUR is not the currency of account {acme} (USD); money is never converted",
    )
    one_error(
        world.cli("ledger", "balance", acme, "--currency", "EUR"),
        f"--currency: EUR is not the currency of account {acme} (USD); money is never converted",
    )
    assert balance(world, "acme") == Decimal("100")
    ok = world.cli("ledger", "credit", world.id("euro"), "10", "--currency", "EUR", *WIRE, "--json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(world.cli("ledger", "balance", world.id("euro"), "--json").output)["currency"] == "EUR"
    assert balance(world, "euro") == Decimal("10")


def test_the_ledger_refuses_another_currency_on_every_write_path(world):
    """The check the daemon's other paths (hooks, top-ups, AMQP) share: the engine's ledger write."""
    with pytest.raises(InputError, match=r"EUR is not the currency of account .* \(USD\); money is never converted"):
        world.sim.engine.ledger.credit(
            world.id("acme"),
            Decimal(5),
            "EUR",
            kind="payment",
            reason="wire_transfer",
            description="x",
            at=world.sim.clock.now(),
            key="amqp:1",
        )
    assert world.sim.couch.db(account_db(world.id("acme"))).get_or_none(marker_id("amqp:1")) is None
    assert balance(world, "acme") == Decimal("100")


def test_an_idempotency_key_is_the_same_entry_or_refused(world):
    acme, euro = world.id("acme"), world.id("euro")
    first = world.cli("ledger", "credit", acme, "25.50", "--key", "REF123", *WIRE, "--json")
    assert first.exit_code == 0, first.stderr
    stored = json.loads(first.output)
    again = world.cli("ledger", "credit", acme, "25.50", "--key", "REF123", *WIRE)
    assert again.exit_code == 0 and again.output.endswith("(already there)\n")
    refused = (
        f"credit for {acme}: key: 'REF123' is already used by {stored['db']}/{stored['id']} "
        "(credit 25.50 USD, wire_transfer); another amount or reason needs another key"
    )
    one_error(world.cli("ledger", "credit", acme, "99", "--key", "REF123", *WIRE), refused)
    one_error(
        world.cli(
            "ledger", "credit", acme, "25.50", "--key", "REF123", "--reason", "manual_addition", "--description", "wire"
        ),
        refused,
    )
    one_error(
        world.cli("ledger", "debit", acme, "25.50", "--key", "REF123", *WIRE),
        refused.replace("credit for", "debit for", 1),
    )
    assert balance(world, "acme") == Decimal("125.50")
    other = world.cli("ledger", "credit", euro, "99", "--key", "REF123", *WIRE, "--json")
    assert other.exit_code == 0 and json.loads(other.output)["written"] is True  # keys belong to an account
    assert balance(world, "euro") == Decimal("99")


@pytest.mark.parametrize(
    "amount, line",
    [
        ("-10", "AMOUNT: must be more than 0, got -10"),
        ("0", "AMOUNT: must be more than 0, got 0"),
        ("100000.01", "AMOUNT: 100000.01 USD is above the operator ceiling of 100000 USD (--force to book it anyway)"),
        (
            "99999999999999999999",
            "AMOUNT: 99999999999999999999 is above the largest amount the ledger holds (900719925474)",
        ),
        ("1e400", "AMOUNT: 1e400 is above the largest amount the ledger holds (900719925474)"),
        ("ten", "AMOUNT: not a number: 'ten'"),
    ],
)
def test_amounts_out_of_bounds_are_refused(shared_world, amount, line):
    for command in ("credit", "debit"):
        one_error(
            shared_world.cli(
                "ledger",
                command,
                shared_world.id("acme"),
                amount,
                *WIRE,
                "--force" if "ceiling" not in line else "--json",
            ),
            line,
        )
    one_error(shared_world.cli("pay", "topup", shared_world.id("acme"), amount), line)
    assert balance(shared_world, "acme") == Decimal("100")


def test_the_ceiling_is_a_setting_and_force_books_above_it(world):
    acme = world.id("acme")
    world.env["BOOKKEEPER_OPERATOR_CEILING"] = "50"
    one_error(
        world.cli("ledger", "credit", acme, "50.01", *WIRE),
        "AMOUNT: 50.01 USD is above the operator ceiling of 50 USD (--force to book it anyway)",
    )
    assert world.cli("ledger", "credit", acme, "50", *WIRE).exit_code == 0
    forced = world.cli("ledger", "credit", acme, "150000", *WIRE, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert balance(world, "acme") == Decimal("150150")
