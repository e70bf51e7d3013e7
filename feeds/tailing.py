"""Tailing many databases with few threads: every change ends in `Consumer.drain`, run by a small pool.

What tells the pool a database changed depends on the server (probed at start-up):
- with `_db_updates` (CouchDB 3, Cloudant): one longpoll feed over every database queues the updated ones, so
  10,000 account DBs cost one socket;
- without it (PouchDB Server): a continuous `_changes` feed with docs (heartbeats, read timeout of 2.5
  heartbeats, reconnection with jittered backoff; its rows are handed to the consumer, so a drain right behind it
  reads nothing) for each of the first `follow_cap` databases (`accounts` and `services`
  first), and one poller that visits the rest round-robin, reading `update_seq` (GET /db) and queueing the
  databases whose `update_seq` moved. Feeds are never reconnected without cause: PouchDB Server leaks a
  listener per dropped continuous feed.
Every database newly tailed (start-up, discovery, a lease gained) is queued once for catch-up.
On a CouchDB cluster the per-database paths cannot trust one read: a feed row or a moved `update_seq` comes from
the fastest copy of each shard, while the drain reads the copies its checkpoint names, which may not have that
write yet (a notice can come before the write is answered; a quorum write is answered before every copy has it).
So there each such notice is followed by RECHECK_DELAYS more drains; `_db_updates` needs none (every copy's node
reports the update once that copy has it).
Checkpoints handled by the drains are written by a flusher once they have been dirty for `checkpoint_interval`
seconds, by a consumer dropped (best effort) and by `stop()` (see feeds/consumer.py for why deferring them is safe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bookkeeper.backoff import backoff_delay
from bookkeeper.couch import Couch, CouchError, NotFound

from .consumer import Consumer, EngineFailed
from .discovery import SHARED_DBS, tailed_name
from .drainqueue import DrainQueue
from .engine import Engine
from .metrics import Metrics
from .options import FeedOptions

log = logging.getLogger(__name__)
FLUSH_ROUND = 5.0
RECHECK_DELAYS = (0.5, 3.0)  # seconds after a notice's drain (clusters without `_db_updates`): read again
STOP_FLUSHES = 16  # checkpoint writes in flight at once when stopping


class Tailer:
    """The consumers of the databases this worker tails, and the threads that keep them caught up."""

    def __init__(
        self,
        couch: Couch,
        engine: Engine,
        metrics: Metrics,
        options: FeedOptions,
        *,
        db_updates: bool,
        owns: Callable[[str], bool] = lambda name: True,
        worker: str = "",
    ):
        """`owns(name)`: whether this worker tails database `name` (its lease), asked of databases that
        `_db_updates` reports created. `self.rechecks`: the delays of the drains that follow a notice (above)."""
        self.couch, self.engine, self.metrics, self.options = couch, engine, metrics, options
        self.db_updates, self.owns, self.worker = db_updates, owns, worker
        self.rechecks = () if db_updates or couch.copies() == 1 else RECHECK_DELAYS
        self.consumers: dict[str, Consumer] = {}
        self.followed: dict[str, threading.Thread] = {}
        self.queue = DrainQueue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._seen_update_seq: dict[str, object] = {}
        self._draining = 0
        metrics.gauge("databases_tailed", "Databases this worker tails.", lambda: len(self.consumers))
        metrics.gauge("databases_followed", "Databases with their own continuous feed.", lambda: len(self.followed))
        metrics.gauge("drain_queue", "Databases waiting for a catch-up read.", lambda: len(self.queue))
        metrics.gauge("drains_active", "Databases being read and handled now.", lambda: self._draining)
        metrics.gauge(
            "feed_lag_sequences",
            "Sequences not yet handled, summed over databases.",
            lambda: sum(c.lag()[0] for c in list(self.consumers.values())),
        )
        metrics.gauge(
            "feed_lag_seconds",
            "Longest time a database has been behind its latest change.",
            lambda: max((c.lag()[1] for c in list(self.consumers.values())), default=0.0),
        )

    # -- lifecycle
    def start(self) -> Tailer:
        for i in range(self.options.drain_workers):
            self._spawn(self._drain_loop, f"drain-{i}")
        self._spawn(self._db_updates_loop if self.db_updates else self._poll_loop, "updates", joined=False)
        if self.options.checkpoint_interval > 0:
            self._spawn(self._flush_loop, "checkpoints")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop: each drain in progress may finish its batch within `timeout`, then every checkpoint of a handled
        batch not yet written is written (a drain still in its batch then keeps its changes for the next start).
        Followers and the `_db_updates` longpoll (or the poller), idle in a read, are daemon threads: they only
        queue work, hold nothing that needs writing, and end with the process, so they are not waited for."""
        self.stopping.set()
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self.flush(deadline=deadline)
        if left:
            log.warning("stopping with %d checkpoints unwritten: their changes will be delivered again", left)

    def flush(self, deadline: float | None = None, older_than: float = 0.0) -> int:
        """Write the dirty checkpoints of the tailed databases (with `older_than`, those dirty for at least that
        many seconds); the number left dirty. A consumer in the middle of a drain is skipped (the flusher: until
        the next round); with `deadline` (`stop`) each is waited for until then, and after it only those not in a
        drain are written, STOP_FLUSHES at a time (a stop may find every tailed database dirty)."""
        due = [c for c in list(self.consumers.values()) if c.dirty and c.dirty_for() >= older_than]

        def one(consumer: Consumer) -> bool:
            return self._flush(consumer, 0.0 if deadline is None else max(0.0, deadline - time.monotonic()))

        if deadline is None or len(due) < 2:
            return sum(not one(c) for c in due)
        with ThreadPoolExecutor(STOP_FLUSHES, thread_name_prefix="stop-flush") as pool:
            return sum(not ok for ok in pool.map(one, due))

    def _flush(self, consumer: Consumer, wait: float = 0.0) -> bool:
        """`consumer.flush`, waiting `wait` seconds for its lock; a failure is counted, logged and left to a
        later round (never raised)."""
        try:
            return consumer.flush(max(0.0, wait))
        except NotFound:
            log.info("checkpoint of %s not written: the database is gone", consumer.name)
        except CouchError as exc:
            self.metrics.count("feed_errors")
            log.warning("checkpoint of %s not written: %s; retried later", consumer.name, exc)
        return False

    def _spawn(self, target, name: str, *args, joined: bool = True) -> threading.Thread:
        """Start a daemon thread; `joined`: `stop` waits for it."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        if joined:
            self._threads.append(thread)
        return thread

    # -- which databases
    def sync(self, names: set[str]) -> None:
        """Tail exactly `names` (the existing databases this worker owns)."""
        with self._lock:
            gone = set(self.consumers) - names
            new = sorted(names - set(self.consumers), key=lambda n: (n not in SHARED_DBS, n))
        for name in gone:
            self.drop(name)
        for name in new:
            self.add(name)

    def add(self, name: str) -> Consumer:
        with self._lock:
            consumer = self.consumers.get(name)
            if consumer is not None:
                return consumer
            consumer = self.consumers[name] = Consumer(
                self.couch,
                name,
                self.options.consumer,
                self.worker,
                checkpoint_interval=self.options.checkpoint_interval,
            )
            follow = not self.db_updates and len(self.followed) < self.options.follow_cap
            if follow:
                self.followed[name] = threading.Thread(
                    target=self._follow_loop, args=(consumer,), name=f"follow-{name}", daemon=True
                )
        if follow:
            self.followed[name].start()
        else:
            self.queue.put(consumer)
        return consumer

    def catch_up_all(self) -> int:
        """Queue every tailed database for a drain from its checkpoint; how many."""
        with self._lock:
            consumers = list(self.consumers.values())
        for consumer in consumers:
            self.queue.put(consumer)
        return len(consumers)

    def drop(self, name: str) -> None:
        """Stop tailing `name` (deleted, or its lease lost); its follower ends at its next event. Its dirty
        checkpoint is written now, or by the drain in progress when it ends (best effort: at worst the next
        owner gets those changes again)."""
        with self._lock:
            consumer = self.consumers.pop(name, None)
            self.followed.pop(name, None)
            self._seen_update_seq.pop(name, None)
        if consumer is not None and consumer.dirty:
            self._flush(consumer)

    def _tails(self, consumer: Consumer) -> bool:
        return not self.stopping.is_set() and self.consumers.get(consumer.name) is consumer

    # -- threads
    def _drain_loop(self) -> None:
        while (consumer := self.queue.get()) is not None:
            if not self._tails(consumer):
                continue
            with self._lock:
                self._draining += 1
            try:
                consumer.drain(self.engine, self.metrics, limit=self.options.batch_size, stop=self.stopping)
                consumer.failures = 0
                if consumer.rechecks:
                    delay, consumer.rechecks = consumer.rechecks[0], consumer.rechecks[1:]
                    self.metrics.count("feed_rechecks")
                    self.queue.put(consumer, delay)
            except NotFound:
                log.info("%s is gone: no longer tailed", consumer.name)
                self.drop(consumer.name)
            except Exception as exc:  # the engine's or the server's: retried with backoff, never lost
                consumer.failures += 1
                if not isinstance(exc, EngineFailed):
                    self.metrics.count("feed_errors")
                delay = backoff_delay(consumer.failures, cap=self.options.backoff_cap)
                log.warning(
                    "%s: %s; retry %d in %.1fs",
                    consumer.name,
                    exc,
                    consumer.failures,
                    delay,
                    exc_info=isinstance(exc, EngineFailed),
                )
                consumer.behind_since = consumer.behind_since or time.monotonic()
                self.queue.put(consumer, delay)
            finally:
                with self._lock:
                    self._draining -= 1
            if consumer.dirty and not self._tails(consumer):  # dropped or stopping meanwhile: nobody else will
                self._flush(consumer)

    def _flush_loop(self) -> None:
        """Every FLUSH_ROUND seconds (or interval, if shorter), the checkpoints dirty for an interval: each
        database's write comes an interval after its first unwritten change, so the writes are spread out."""
        interval = self.options.checkpoint_interval
        while not self.stopping.wait(min(interval, FLUSH_ROUND)):
            self.flush(older_than=interval)

    def _follow_loop(self, consumer: Consumer) -> None:
        attempt = 0
        while self._tails(consumer):
            connected = time.monotonic()
            try:
                after = consumer.db.info()["update_seq"]
                self.queue.put(consumer)  # whatever came before the feed starts
                for row in consumer.db.follow(after, heartbeat_ms=self.options.heartbeat_ms, include_docs=True):
                    if not self._tails(consumer):
                        return
                    attempt = 0
                    consumer.offer(after, row)
                    after = row["seq"]
                    consumer.noticed(after)
                    self._notice(consumer)
            except NotFound:
                self.drop(consumer.name)
                return
            except CouchError as exc:
                self.metrics.count("feed_errors")
                log.warning("feed of %s dropped: %s", consumer.name, exc)
            attempt = 1 if time.monotonic() - connected > 60 else attempt + 1
            self.stopping.wait(backoff_delay(attempt, cap=self.options.backoff_cap))

    def _poll_loop(self) -> None:
        """Round-robin over the databases without a feed of their own, queueing those whose update_seq moved."""
        attempt = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            with self._lock:
                polled = [c for n, c in self.consumers.items() if n not in self.followed]
            for consumer in polled:
                if not self._tails(consumer):
                    continue
                try:
                    update_seq = consumer.db.info()["update_seq"]
                    attempt = 0
                except NotFound:
                    self.drop(consumer.name)
                    continue
                except CouchError as exc:  # skip it this round: the rest of the round is not starved
                    attempt += 1
                    self.metrics.count("feed_errors")
                    log.warning("polling %s: %s", consumer.name, exc)
                    self.stopping.wait(backoff_delay(attempt, cap=self.options.backoff_cap))
                    continue
                if self._seen_update_seq.get(consumer.name) != update_seq:
                    self._seen_update_seq[consumer.name] = update_seq
                    consumer.noticed(update_seq)
                    self._notice(consumer)
            self.stopping.wait(max(0.0, self.options.poll_interval - (time.monotonic() - started)))

    def _notice(self, consumer: Consumer) -> None:
        """A feed row or a moved `update_seq` says `consumer`'s database changed: drain it now (and again after
        each of `rechecks`)."""
        consumer.rechecks = self.rechecks
        self.queue.put(consumer)

    def _db_updates_loop(self) -> None:
        """One `_db_updates` longpoll over the whole server; created and updated databases are queued."""
        since, attempt = "now", 0
        timeout = self.options.db_updates_timeout_ms
        while not self.stopping.is_set():
            try:
                page = self.couch.json(
                    "GET",
                    "/_db_updates",
                    params={"feed": "longpoll", "since": since, "timeout": timeout},
                    timeout=timeout / 1000 + 30,
                )
            except CouchError as exc:
                attempt += 1
                self.metrics.count("feed_errors")
                log.warning("_db_updates: %s", exc)
                self.stopping.wait(backoff_delay(attempt, cap=self.options.backoff_cap))
                continue
            attempt = 0
            for name, kind in db_updates_events(self.couch, page.get("results", [])):
                consumer = self.consumers.get(name)
                if kind == "deleted":
                    self.drop(name)
                elif consumer is not None:
                    consumer.noticed()
                    self.queue.put(consumer)
                elif self.owns(name):
                    self.add(name)
            since = page.get("last_seq", since)


def db_updates_events(couch: Couch, rows: list[dict]) -> list[tuple[str, str]]:
    """(canonical name, "created" | "updated" | "deleted") for the tailed databases among `_db_updates` rows."""
    events = []
    for row in rows:
        name = tailed_name(couch, str(row.get("db_name", "")))
        if name is not None:
            events.append((name, str(row.get("type", "updated"))))
    return events
