"""Errors a user sees: one line that names the document (or file) and the field."""

import re


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
