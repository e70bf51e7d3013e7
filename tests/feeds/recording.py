"""A recording engine for the daemon's tests: it keeps what it was given, and can be told to fail."""

from __future__ import annotations

import threading


class RecordingEngine:
    """Satisfies feeds.engine.Engine. `fail_next` batches raise before being recorded."""

    def __init__(self, fail_next: int = 0, zones: set[str] = frozenset({"UTC"})):
        self.batches: list[tuple[str, list[dict]]] = []
        self.ticks: list = []
        self.fail_next = fail_next
        self.zones = set(zones)
        self.lock = threading.Lock()

    def handle_changes(self, db_name: str, rows: list[dict]) -> None:
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("engine failure (test)")
            self.batches.append((db_name, rows))

    def tick(self, now, owns) -> None:
        with self.lock:
            self.ticks.append(now)

    def timezones(self) -> set[str]:
        return set(self.zones)

    def ids(self, db_name: str) -> list[str]:
        """Document ids handled in `db_name`, in the order handled (repeats kept)."""
        with self.lock:
            return [row["id"] for name, rows in self.batches if name == db_name for row in rows]
