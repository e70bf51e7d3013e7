"""What the daemon drives: the billing engine's side of the contract (`bookkeeper.billing.BillingEngine`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from threading import Event
from typing import Protocol


class Engine(Protocol):
    """Reacts to changes and to time. Both calls are idempotent: a replay writes nothing new."""

    def handle_changes(self, db_name: str, rows: list[dict]) -> None:
        """`_changes` rows with docs, in seq order, of one database (an account DB, `accounts` or `services`).
        Raising means "not handled": the checkpoint stays before these rows and they are delivered again."""

    def tick(self, now: datetime, owns: Callable[[str], bool], stop: Event | None = None) -> None:
        """Evaluate everything due at `now` for the accounts `owns(account_id)` says are ours; once `stop` is set,
        return after the batch in hand (what is left stays due for the next tick)."""

    def timezones(self) -> set[str]:
        """IANA zones in which resellers' days start."""
