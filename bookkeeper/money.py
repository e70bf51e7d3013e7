"""Money: Decimal amounts with their currency, the one rounding rule, KAZOO units.

Every charge and credit is rounded once, ROUND_HALF_UP, to the currency's ISO 4217 minor unit
(docs/charging.md "Money"). Stored amounts are KAZOO units: 1 currency unit = 10,000 units, integer.
ISO 4217 minor units and locale formatting come from babel (CLDR data), not from a hand-kept table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies

from .errors import InputError

UNITS_PER_UNIT = 10_000
MAX_UNITS = 2**53 - 1  # the largest whole number a JSON reader (CouchDB's JavaScript views) holds exactly
MAX_AMOUNT = Decimal(MAX_UNITS // UNITS_PER_UNIT)  # the largest amount in currency units a document may hold
KNOWN_CURRENCIES = frozenset(list_currencies())


def check_currency(code: str, where: str = "currency") -> str:
    """Return `code` if it is an ISO 4217 code babel knows, else raise InputError."""
    if not isinstance(code, str) or code not in KNOWN_CURRENCIES:
        raise InputError(where, None, f"unknown ISO 4217 currency: {code!r}")
    return code


def minor_digits(currency: str) -> int:
    """Digits after the decimal point for `currency` (USD 2, JPY 0, BHD 3)."""
    return get_currency_precision(check_currency(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding function: ROUND_HALF_UP to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), rounding=ROUND_HALF_UP)


def to_units(amount: Decimal) -> int:
    """Currency units -> KAZOO integer units. The amount must already be rounded."""
    units = amount * UNITS_PER_UNIT
    if units != units.to_integral_value():
        raise ValueError(f"amount {amount} is not a whole number of KAZOO units")
    return int(units)


def from_units(units: int) -> Decimal:
    """KAZOO integer units -> currency units, exact (KAZOO truncates; ours are whole cents)."""
    return Decimal(int(units)) / UNITS_PER_UNIT


def parse_amount(text: object, currency: str, where: str = "amount") -> Decimal:
    """Parse a user-typed amount exactly. More digits than the currency has is an error, never rounded."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InputError(where, None, f"not a number: {text!r}") from None
    if not value.is_finite():
        raise InputError(where, None, f"not a finite number: {text!r}")
    if abs(value) > MAX_AMOUNT:
        raise InputError(where, None, f"{text} is above the largest amount the ledger holds ({MAX_AMOUNT})")
    digits = minor_digits(currency)
    if value != round_money(value, currency):
        raise InputError(where, None, f"{text} has more than {digits} decimal digits for {currency}")
    return value


def operator_amount(text: object, currency: str, where: str, ceiling: Decimal, force: bool = False) -> Decimal:
    """An amount an operator typed for one credit or debit: exact, above zero, and not above the operator
    ceiling (`Config.operator_ceiling`) unless `force`."""
    value = parse_amount(text, currency, where)
    if value <= 0:
        raise InputError(where, None, f"must be more than 0, got {text}")
    if value > ceiling and not force:
        raise InputError(
            where,
            None,
            f"{text} {currency} is above the operator ceiling of {ceiling} {currency} (--force to book it anyway)",
        )
    return value


def format_money(amount: Decimal, currency: str, locale: str = "en_US") -> str:
    """Human form for invoices and tables, e.g. '$1,234.50' or '1 234,50 €'."""
    return format_currency(amount, currency, locale=locale)


@dataclass(frozen=True)
class Money:
    """An amount with its currency. Arithmetic refuses to mix currencies."""

    amount: Decimal
    currency: str

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")
        return other

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    @property
    def units(self) -> int:
        return to_units(self.amount)
