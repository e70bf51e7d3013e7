from decimal import Decimal

import pytest

from bookkeeper.errors import InputError
from bookkeeper.money import Money, format_money, from_units, minor_digits, parse_amount, round_money, to_units


def test_minor_units_come_from_iso_4217():
    assert [minor_digits(c) for c in ("USD", "EUR", "GBP", "RUB", "JPY", "BHD")] == [2, 2, 2, 2, 0, 3]
    with pytest.raises(InputError, match="unknown ISO 4217 currency: 'XYZ1'"):
        minor_digits("XYZ1")


@pytest.mark.parametrize(
    "amount,currency,expected",
    [
        ("14.193548", "USD", "14.19"),
        ("0.125", "EUR", "0.13"),
        ("0.124999", "EUR", "0.12"),
        ("2.5", "JPY", "3"),
        ("-0.125", "USD", "-0.13"),
        ("1.0005", "BHD", "1.001"),
    ],
)
def test_round_half_up_once(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)


def test_units_are_exact_integers():
    assert to_units(Decimal("14.19")) == 141900
    assert from_units(141900) == Decimal("14.19")
    with pytest.raises(ValueError):
        to_units(Decimal("0.00001"))


def test_parse_amount_refuses_extra_digits_instead_of_rounding():
    assert parse_amount("10.50", "USD") == Decimal("10.50")
    with pytest.raises(InputError, match=r"10\.005 has more than 2 decimal digits for USD"):
        parse_amount("10.005", "USD")
    with pytest.raises(InputError, match="not a number: 'ten'"):
        parse_amount("ten", "USD")
    with pytest.raises(InputError, match="more than 0 decimal digits for JPY"):
        parse_amount("10.5", "JPY")


def test_money_never_mixes_currencies():
    assert Money(Decimal("1.10"), "USD") + Money(Decimal("2.20"), "USD") == Money(Decimal("3.30"), "USD")
    with pytest.raises(ValueError, match="cannot mix USD and EUR"):
        Money(Decimal(1), "USD") - Money(Decimal(1), "EUR")


def test_format_money_uses_the_locale():
    assert format_money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_money(Decimal("1234.5"), "EUR", "de_DE") == "1.234,50\xa0€"
