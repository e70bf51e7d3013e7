"""JSON text in and out with exact numbers: floats parse to Decimal, Decimals print as JSON numbers.

The one JSON writer for documents sent to CouchDB and for `--json` output; times are written in ISO 8601."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .errors import InputError


def loads(text: str, where: str) -> Any:
    """JSON text -> data, every non-integer number an exact Decimal; bad JSON is an InputError naming `where`."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as err:
        raise InputError(where, None, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


def number(value: Decimal) -> str:
    """A Decimal as a JSON number, without exponent or trailing zeros: 151.92, 14, 0.5."""
    return "0" if value == 0 else format(value.normalize(), "f")


def dumps(value: Any, indent: int | None = 2) -> str:
    """Like json.dumps, but Decimals become exact JSON numbers. Text without a Decimal in it is written by the
    standard library's C encoder; text with one by `_encode` (same layout)."""
    try:
        return json.dumps(value, indent=indent, separators=(",", ": "), default=_plain)
    except (_HasDecimal, TypeError):  # TypeError: a key that is not text, a number or null
        return "".join(_encode(value, indent, 0))


class _HasDecimal(Exception):
    """The value holds a Decimal, which only `_encode` writes exactly."""


def _plain(value: Any):
    if isinstance(value, Decimal):
        raise _HasDecimal
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _encode(value: Any, indent: int | None, level: int):
    if isinstance(value, Decimal):
        yield number(value)
    elif isinstance(value, (dict, list, tuple)):
        pairs = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        if not pairs:
            yield opening + closing
            return
        inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
        yield opening
        for i, (key, item) in enumerate(pairs):
            yield ("," if i else "") + inner
            if key is not None:
                yield json.dumps(str(key)) + ": "
            yield from _encode(item, indent, level + 1)
        yield ("" if indent is None else "\n" + " " * (indent * level)) + closing
    elif isinstance(value, (datetime, date)):
        yield json.dumps(value.isoformat())
    else:
        yield json.dumps(value, default=str)
