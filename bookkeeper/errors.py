"""Errors a user sees: one line that names the document (or file) and the field."""


class BookkeeperError(Exception):
    """Base of every error the CLI reports as one line on stderr with exit code 2."""


class InputError(BookkeeperError, ValueError):
    """Bad input: a plan, a scenario, an amount, a setting. The message names where and what."""

    def __init__(self, where: str, field: str | None, problem: str):
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")
