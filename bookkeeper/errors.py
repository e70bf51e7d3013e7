"""Errors a user sees: one line that names the document (or file) and the field."""

import json
import re
from typing import Any

from pydantic_core import ErrorDetails


class BookkeeperError(Exception):
    """Base of every error the CLI reports as one line on stderr with exit code 2."""


class InputError(BookkeeperError, ValueError):
    """Bad input: a plan, a scenario, an amount, a setting. The message names where and what."""

    def __init__(self, where: str, field: str | None, problem: str):
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


def os_reason(text: str) -> str | None:
    """The operating system's reason inside a library's wrapped error text ("[Errno 111] Connection refused" ->
    "Connection refused"), if there is one."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return found.group(1).strip() if found else None


def shown(value: Any) -> str:
    """A value as it appears in the document, for error messages."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_PROBLEMS = {
    "dict_type": "not an object",
    "model_type": "not an object",
    "model_attributes_type": "not an object",
    "string_type": "not a string",
    "list_type": "not a list",
    "bool_type": "not true or false",
    "bool_parsing": "not true or false",
    "int_type": "not a whole number",
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
}


def problem_of(error: ErrorDetails) -> str:
    """One pydantic error in words: a wrong type with the value as the document has it, a missing or unknown key
    as such, anything else as its validator said it."""
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "literal_error":
        return f"must be {error['ctx']['expected']}, got {shown(error['input'])}"
    kind = _PROBLEMS.get(error["type"])
    return f"{kind}: {shown(error['input'])}" if kind else error["msg"]
