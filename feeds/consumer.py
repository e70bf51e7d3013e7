"""One database's consumer: read `_changes` from the checkpoint in batches, hand them to the engine, and only
then move the checkpoint. Every way the daemon learns of changes (continuous feed, `update_seq` polling,
`_db_updates`, start-up, `--once`) ends in `Consumer.drain`, so there is one handling path. A continuous feed
hands its rows (with docs) to the consumer (`offer`): a drain whose checkpoint is where they start handles them
without reading `_changes` again; any other drain reads.

Deferred checkpoints (`checkpoint_interval` > 0). After a batch is handled the consumer moves its checkpoint in
memory (the next drain reads from there) and marks it dirty; the `_local` doc is written by `flush()`: the
Tailer's flusher once it has been dirty for `checkpoint_interval` seconds, `Tailer.stop()` after the drain
workers end, a dropped consumer, the end of `catch_up` (`--once`). A drain writes it itself only when its
unwritten progress is already `checkpoint_interval` old (the flusher has not come round yet), and a failed
deferred write is counted (`feed_errors`), logged and left dirty, never raised into the drain. With 0 every batch
is written before the drain goes on, as before.

Why nothing is skipped or charged twice: the stored seq only ever names changes the engine has already handled
(the in-memory seq moves after `handle_changes` returns; a flush writes that seq). So a crash (SIGKILL, power)
can only leave the stored seq behind the handled one, by at most about `checkpoint_interval` seconds of
progress; the next consumer reads from the stored seq and those changes are delivered again (at-least-once).
The engine is idempotent (deterministic charge ids, state saved against the `_rev` read), so a change handled
twice charges nothing twice, and no change after the stored seq is ever skipped."""

from __future__ import annotations

import logging
import threading
import time

from bookkeeper.couch import Couch, CouchError
from bookkeeper.errors import BookkeeperError

from .checkpoints import Checkpoint, read_checkpoint, seq_number, write_checkpoint
from .engine import Engine
from .metrics import Metrics

DEFAULT_CONSUMER = "billing"
BUFFER = 1000  # feed rows kept per database for its next drain

log = logging.getLogger(__name__)


class EngineFailed(BookkeeperError):
    """The engine raised on a batch: nothing after the checkpoint counts as handled."""

    def __init__(self, db_name: str, cause: BaseException):
        self.db_name, self.cause = db_name, cause
        super().__init__(f"{db_name}: {cause}")


class Consumer:
    """The consumer of one database (`name` as the engine knows it: `account/ab/cd/...`, `accounts`, `services`).

    `checkpoint` is the handled position (seq) with the rev of the stored `_local` doc; `dirty_since` is when
    that seq first got ahead of the stored one (None: the stored doc is up to date). `head` is the highest seq
    number seen on the server and `behind_since` when it first got ahead of the checkpoint: both feed the lag
    metrics. `drain` and `flush` are serialised per database by `lock`."""

    __slots__ = (
        "_rows",
        "_rows_after",
        "_rows_lock",
        "behind_since",
        "checkpoint",
        "consumer",
        "db",
        "dirty_since",
        "failures",
        "head",
        "interval",
        "lock",
        "name",
        "queued",
        "rechecks",
        "worker",
    )

    def __init__(
        self,
        couch: Couch,
        name: str,
        consumer: str = DEFAULT_CONSUMER,
        worker: str = "",
        *,
        checkpoint_interval: float = 0.0,
    ):
        self.name, self.db, self.consumer, self.worker = name, couch.db(name), consumer, worker
        self.lock = threading.Lock()
        self.checkpoint: Checkpoint | None = None
        self.head = 0
        self.behind_since: float | None = None
        self.failures = 0
        self.queued: float | None = None  # when it is due for a drain, while queued (DrainQueue)
        self.rechecks: tuple[float, ...] = ()  # delays of the drains still due after a notice (Tailer)
        self.interval = checkpoint_interval
        self.dirty_since: float | None = None
        self._rows: list[dict] = []  # rows a continuous feed delivered, contiguous, right after `_rows_after`
        self._rows_after = None
        self._rows_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Consumer({self.name!r})"

    @property
    def dirty(self) -> bool:
        """Whether changes were handled since the `_local` doc was last written."""
        return self.dirty_since is not None

    def dirty_for(self) -> float:
        """Seconds since the first change not in the `_local` doc was handled (0 when it is up to date)."""
        since = self.dirty_since
        return 0.0 if since is None else time.monotonic() - since

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

    def offer(self, after, row: dict) -> None:
        """A continuous feed's row (with its doc) that came right after seq `after` in that feed. A drain whose
        checkpoint is where the buffered rows start handles them without reading `_changes`; any other drain
        reads. A gap (a new connection) starts the buffer again; past BUFFER rows it is dropped (reads again)."""
        with self._rows_lock:
            if not self._rows or self._rows[-1]["seq"] != after:
                self._rows, self._rows_after = [], after
            self._rows.append(row)
            if len(self._rows) > BUFFER:
                self._rows, self._rows_after = [], None

    def _page(self, since, limit: int) -> dict:
        """The changes after `since`: from the buffered feed rows when they follow it, else read."""
        with self._rows_lock:
            if self._rows_after != since:  # the checkpoint may have reached one of the buffered rows by a read
                at = next((i for i, row in enumerate(self._rows) if row["seq"] == since), None)
                if at is not None:
                    self._rows, self._rows_after = self._rows[at + 1 :], since
            if self._rows and self._rows_after == since:
                rows, self._rows = self._rows[:limit], self._rows[limit:]
                self._rows_after = rows[-1]["seq"]
                return {"results": rows, "last_seq": rows[-1]["seq"], "pending": len(self._rows)}
        return self.db.changes(since, limit=limit, include_docs=True)

    def _seq_or_zero(self):
        return self.checkpoint.seq if self.checkpoint else 0

    def lag(self) -> tuple[int, float]:
        """(sequences, seconds) this consumer is behind the server, as far as it knows."""
        seqs = max(0, self.head - seq_number(self._seq_or_zero()))
        seconds = time.monotonic() - self.behind_since if self.behind_since is not None else 0.0
        return seqs, seconds

    def drain(self, engine: Engine, metrics: Metrics, *, limit: int = 500, stop: threading.Event | None = None):
        """Handle every change after the checkpoint, `limit` rows per engine call, moving the checkpoint after
        each batch (written at once with `checkpoint_interval` 0, else deferred: see the module docstring);
        returns the final seq. Raises EngineFailed (checkpoint kept) or a CouchError (reading; with interval 0
        also writing). With `stop` set, returns after the batch in hand."""
        with self.lock:
            checkpoint = self._checkpoint()
            while True:
                page = self._page(checkpoint.seq, limit)
                rows = page["results"]
                if rows:
                    try:
                        engine.handle_changes(self.name, rows)
                    except Exception as exc:
                        metrics.count("engine_errors")
                        raise EngineFailed(self.name, exc) from exc
                    checkpoint = self._handled(page["last_seq"], metrics)
                    metrics.count("changes_handled", len(rows))
                pending = page.get("pending")
                if len(rows) < limit and not pending:
                    self.head, self.behind_since = seq_number(checkpoint.seq), None
                    return checkpoint.seq
                self.head = max(self.head, seq_number(page["last_seq"]) + (pending or 0))
                if stop is not None and stop.is_set():
                    return checkpoint.seq

    def _handled(self, seq, metrics: Metrics) -> Checkpoint:
        """Move the checkpoint to `seq` (everything up to it handled); write it now or mark it dirty."""
        if self.interval <= 0:  # as before: written before the drain goes on, a failure raised into it
            self.checkpoint = write_checkpoint(self.db, self.consumer, self._checkpoint(), seq, self.worker)
            self.dirty_since = None
            return self.checkpoint
        self.checkpoint = Checkpoint(seq, self._checkpoint().rev)
        now = time.monotonic()
        if self.dirty_since is None:
            self.dirty_since = now
        elif now - self.dirty_since >= self.interval:  # nobody flushed it in time: bound the loss here
            try:
                self._write()
            except CouchError as exc:
                metrics.count("feed_errors")
                log.warning("checkpoint of %s at %r not written: %s; retried later", self.name, seq, exc)
        return self.checkpoint

    def _write(self) -> None:
        current = self._checkpoint()
        self.checkpoint = write_checkpoint(self.db, self.consumer, current, current.seq, self.worker)
        self.dirty_since = None

    def flush(self, timeout: float | None = None) -> bool:
        """Write the in-memory checkpoint if it is dirty, under `lock` (so never during a drain's batch).
        `timeout`: seconds to wait for the lock (0: don't wait; None: wait as long as it takes). True when the
        stored checkpoint is up to date afterwards, False when the lock was busy; raises a CouchError when the
        write fails (the checkpoint stays dirty, to be retried)."""
        if not self.lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            if self.dirty_since is not None:
                self._write()
            return True
        finally:
            self.lock.release()
