"""One database's consumer: read `_changes` from the checkpoint in batches, hand them to the engine, and only
then move the checkpoint. Every way the daemon learns of changes (continuous feed, `update_seq` polling,
`_db_updates`, start-up, `--once`) ends in `Consumer.drain`, so there is one reading path."""

from __future__ import annotations

import threading
import time

from bookkeeper.couch import Couch
from bookkeeper.errors import BookkeeperError

from .checkpoints import Checkpoint, read_checkpoint, seq_number, write_checkpoint
from .engine import Engine
from .metrics import Metrics

DEFAULT_CONSUMER = "billing"


class EngineFailed(BookkeeperError):
    """The engine raised on a batch: nothing after the checkpoint counts as handled."""

    def __init__(self, db_name: str, cause: BaseException):
        self.db_name, self.cause = db_name, cause
        super().__init__(f"{db_name}: {cause}")


class Consumer:
    """The consumer of one database (`name` as the engine knows it: `account/ab/cd/...`, `accounts`, `services`).

    `head` is the highest seq number seen on the server and `behind_since` when it first got ahead of the
    checkpoint: both feed the lag metrics. `drain` is serialised per database by `lock`."""

    __slots__ = ("name", "db", "consumer", "worker", "lock", "checkpoint", "head", "behind_since", "failures",
                 "queued")

    def __init__(self, couch: Couch, name: str, consumer: str = DEFAULT_CONSUMER, worker: str = ""):
        self.name, self.db, self.consumer, self.worker = name, couch.db(name), consumer, worker
        self.lock = threading.Lock()
        self.checkpoint: Checkpoint | None = None
        self.head = 0
        self.behind_since: float | None = None
        self.failures = 0
        self.queued = False

    def __repr__(self) -> str:
        return f"Consumer({self.name!r})"

    def position(self):
        """The checkpoint's seq (read from the database the first time)."""
        with self.lock:
            return self._checkpoint().seq

    def _checkpoint(self) -> Checkpoint:
        if self.checkpoint is None:
            self.checkpoint = read_checkpoint(self.db, self.consumer)
        return self.checkpoint

    def noticed(self, seq=None) -> None:
        """The server reports a change at `seq` in this database (None: at an unknown seq, `_db_updates`)."""
        self.head = max(self.head, seq_number(seq))
        if self.behind_since is None and (seq is None or self.head > seq_number(self._seq_or_zero())):
            self.behind_since = time.monotonic()

    def _seq_or_zero(self):
        return self.checkpoint.seq if self.checkpoint else 0

    def lag(self) -> tuple[int, float]:
        """(sequences, seconds) this consumer is behind the server, as far as it knows."""
        seqs = max(0, self.head - seq_number(self._seq_or_zero()))
        seconds = time.monotonic() - self.behind_since if self.behind_since is not None else 0.0
        return seqs, seconds

    def drain(self, engine: Engine, metrics: Metrics, *, limit: int = 500,
              stop: threading.Event | None = None):
        """Handle every change after the checkpoint, `limit` rows per engine call, moving the checkpoint after
        each batch; returns the final seq. Raises EngineFailed (checkpoint kept) or a CouchError. With `stop`
        set, returns after the batch in hand."""
        with self.lock:
            checkpoint = self._checkpoint()
            while True:
                page = self.db.changes(checkpoint.seq, limit=limit, include_docs=True)
                rows = page["results"]
                if rows:
                    try:
                        engine.handle_changes(self.name, rows)
                    except Exception as exc:
                        metrics.count("engine_errors")
                        raise EngineFailed(self.name, exc) from exc
                    checkpoint = self.checkpoint = write_checkpoint(self.db, self.consumer, checkpoint,
                                                                    page["last_seq"], self.worker)
                    metrics.count("changes_handled", len(rows))
                pending = page.get("pending")
                if len(rows) < limit and not pending:
                    self.head, self.behind_since = seq_number(checkpoint.seq), None
                    return checkpoint.seq
                self.head = max(self.head, seq_number(page["last_seq"]) + (pending or 0))
                if stop is not None and stop.is_set():
                    return checkpoint.seq
