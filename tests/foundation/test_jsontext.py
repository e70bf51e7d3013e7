"""JSON text: Decimals exact, and the C encoder's text (values without a Decimal) laid out as `_encode` lays it."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bookkeeper import jsontext

VALUES = [
    {"a": 1, "b": [1, 2.5, {"c": None, "t": True}], "d": {}},
    {"x": Decimal("1.50"), "y": [Decimal("0")]},
    {"t": datetime(2026, 1, 1, tzinfo=UTC), "d": date(2026, 1, 2)},
    [],
    {},
    "s",
    {1: "a"},
    {(1, 2): 3},
    {"e": {1, 2}},
]


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("value", VALUES)
def test_both_writers_write_the_same_text(value, indent):
    assert jsontext.dumps(value, indent) == "".join(jsontext._encode(value, indent, 0))


def test_decimals_are_exact_numbers_and_read_back_exact():
    text = jsontext.dumps({"rate": Decimal("24.950"), "units": [Decimal("0.1"), Decimal("1E+2")]}, None)
    assert text == '{"rate": 24.95,"units": [0.1,100]}'
    assert jsontext.loads(text, "t")["units"][0] == Decimal("0.1")
