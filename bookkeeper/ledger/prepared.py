"""What this process knows about the monthly DBs it uses: which exist, which it has set up, which carry-forwards
it still owes. The ledger (`Ledger._prepared`) is its only owner; it does no I/O.

A month is set up in steps, each remembered so that the next write or read into that month costs no request to
do it again (docs/performance.md, "Ledger caches"):

* seen: the database exists (listed, created or found). True for as long as nobody deletes the database.
* designed: its design documents were installed or checked by this process; `fresh` if this process created the
  database then (so no one else can have written its carry-forward yet, and none is looked for).
* ready: it has its carry-forward, written or owed. A month stops being fresh once it is ready.
* owed: the carry-forward of a month this process created, counted in memory but not written yet; the ledger
  writes it with the month's first entries (`settling`), then it is `paid`.

Nothing here is ever dropped except `fresh` (on ready) and `owed` (on paid): each fact stays true while the
process runs (docs/architecture.md, "What the ledger remembers"). A fact forgotten (a restart) costs its requests
again, never a wrong answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PreparedMonths:
    """Monthly DBs (by name) that this process has seen, set up and owes a carry-forward to. Thread-safe."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._designed: set[str] = set()
        self._fresh: set[str] = set()
        self._ready: set[str] = set()
        self._owed: dict[str, tuple[dict, threading.Lock]] = {}
        self._lock = threading.Lock()

    # -- existence and set-up
    def seen(self, name: str) -> bool:
        return name in self._seen

    def see(self, name: str) -> None:
        """The database exists."""
        self._seen.add(name)

    def designed(self, name: str) -> bool:
        return name in self._designed

    def design(self, name: str, created: bool) -> None:
        """Its design documents are in place; `created`: this process created the database just before."""
        self._seen.add(name)
        if created:
            self._fresh.add(name)
        self._designed.add(name)

    def fresh(self, name: str) -> bool:
        """Created by this process and not ready yet: no carry-forward can be there but one we write."""
        return name in self._fresh

    def ready(self, name: str) -> bool:
        return name in self._ready

    def make_ready(self, name: str) -> None:
        """Its carry-forward is written or owed."""
        self._ready.add(name)
        self._fresh.discard(name)

    # -- owed carry-forwards
    def owe(self, name: str, carry: dict) -> None:
        """`carry` is counted but not written yet."""
        with self._lock:
            if name not in self._owed:
                self._owed[name] = (carry, threading.Lock())

    def owed(self, name: str) -> dict | None:
        entry = self._owed.get(name)
        return entry[0] if entry else None

    @contextmanager
    def settling(self, name: str) -> Iterator[dict | None]:
        """Under the month's own lock: its owed carry-forward, or None if there is none (any more). The caller
        counts or writes it meanwhile, and calls `paid` once it is written."""
        entry = self._owed.get(name)
        if entry is None:
            yield None
            return
        with entry[1]:
            yield self.owed(name)

    def paid(self, name: str) -> None:
        """The owed carry-forward is written (by us, or someone else's is there)."""
        with self._lock:
            self._owed.pop(name, None)
