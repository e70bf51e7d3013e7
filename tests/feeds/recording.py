"""A recording engine for the daemon's tests: it keeps what it was given, and can be told to fail; and what "a
checkpoint is caught up" means on any server."""

from __future__ import annotations

import threading
from collections.abc import Set as AbstractSet


class RecordingEngine:
    """Satisfies feeds.engine.Engine. `fail_next` batches raise before being recorded."""

    def __init__(self, fail_next: int = 0, zones: AbstractSet[str] = frozenset({"UTC"})):
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

    def tick(self, now, owns, stop=None) -> None:
        with self.lock:
            self.ticks.append(now)

    def timezones(self) -> set[str]:
        return set(self.zones)

    def ids(self, db_name: str) -> list[str]:
        """Document ids handled in `db_name`, in the order handled (repeats kept)."""
        with self.lock:
            return [row["id"] for name, rows in self.batches if name == db_name for row in rows]


def caught_up(db, seq, handled: list[str]) -> bool:
    """Whether checkpoint `seq` of `db` is past every change: the feed after it holds only documents already
    handled. (On PouchDB Server and one CouchDB node it holds nothing; a CouchDB cluster may answer from another
    copy of a shard and deliver changes again, and its seqs are opaque, so they are not compared.)"""
    return all(row["id"] in handled for row in db.changes(since=seq, include_docs=False)["results"])


def at_end(db, seq) -> bool:
    """Whether `seq` is the end of `db`'s feed: nothing comes after it. (Not `== info()["update_seq"]`: a CouchDB
    cluster's seqs are opaque strings that name the shard copies that answered.)"""
    return db.changes(since=seq, limit=1, include_docs=False)["results"] == []
