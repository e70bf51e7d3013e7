"""The daemon: tails the databases it owns, ticks on time, shares work by leases, serves metrics.

`run()` blocks until SIGTERM or SIGINT, then stops within STOP_GRACE seconds: the drains in hand may finish their
batch until then, every checkpoint of a handled batch is written, the tick in hand stops after its batch, leases are
released for the other workers, and it returns 0. Work still in hand after the grace (a tick's batch, a drain's
batch) is left as a crash would leave it: everything is idempotent, so the next start does it again. `run_once()`
catches up every feed (each database's checkpoint written before the next is read) and runs one tick, then returns
(for cron users: `bookkeeper run --once`).

CouchDB going away (a cluster stopped, a network cut) stops nothing: every thread retries with backoff. The first
discovery round CouchDB does not answer logs an error and sets `couch_reachable` to 0; the first it answers again
logs the recovery, counts it, and queues every tailed database for a catch-up from its checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from bookkeeper.config import Config
from bookkeeper.couch import DB_UPDATES_DELAY_ADVISED_MS, Couch, CouchError, Unavailable

from .catchup import catch_up
from .discovery import SHARED_DBS, ServerFeatures, lease_key, probe, tailed_databases
from .engine import Engine
from .leases import Leases
from .malloc import TRIM_INTERVAL, trim
from .metrics import Metrics, MetricsServer
from .options import FeedOptions
from .scheduler import Ticker, utc_now
from .tailing import Tailer

log = logging.getLogger(__name__)
SIGNAL_POLL = 0.1  # seconds between the main thread's looks for SIGTERM/SIGINT
STOP_GRACE = 3.0  # seconds the drains in hand get to finish before their checkpoints are written


class Daemon:
    """One worker. `settings`: worker_id (default host-pid), metrics_port (0: any free port), bookkeeper_db.
    `holds`: the engine's held accounts and invalid settings (`bookkeeper.holds.Holds`), shown on `/health`."""

    def __init__(
        self,
        couch: Couch,
        config: Config,
        engine: Engine,
        *,
        options: FeedOptions | None = None,
        metrics: Metrics | None = None,
        holds=None,
    ):
        self.couch, self.config, self.engine, self.holds = couch, config, engine, holds
        self.options = options or FeedOptions()
        self.metrics = metrics or Metrics()
        self.worker_id = config.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = threading.Event()
        self.features: ServerFeatures | None = None
        self.leases: Leases | None = None
        self.tailer: Tailer | None = None
        self.ticker: Ticker | None = None
        self.metrics_server: MetricsServer | None = None
        self._control: threading.Thread | None = None
        self._last_round: float | None = None
        self._unreachable_since: float | None = None  # a round found CouchDB not answering (monotonic)

    # -- ownership
    def owns(self, account_id: str) -> bool:
        """Whether this worker evaluates `account_id` (always, without leases)."""
        return self.leases is None or self.leases.owns(account_id)

    def owns_db(self, name: str) -> bool:
        return self.owns(lease_key(name))

    # -- long-running
    def run(self, on_started: Callable[[Daemon], None] | None = None) -> int:
        """Run until SIGTERM/SIGINT (call from the main thread), stop gracefully, return 0. `on_started(self)`
        runs once every thread is up."""
        signalled: list[int] = []  # the handler takes no lock: `Event.set` there can deadlock the waiting thread
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: signalled.append(signum))
        self.start()
        if on_started is not None:
            on_started(self)
        while not signalled and not self.stopping.is_set():
            time.sleep(SIGNAL_POLL)
        self.stopping.set()
        log.info("stopping %s", self.worker_id)
        self.stop()
        return 0

    def start(self) -> Daemon:
        """Start every thread and return (tests and embedding; `run` is start, wait for a signal, stop)."""
        self.features = probe(self.couch, self.options.use_db_updates)
        log.info(
            "worker %s on %s (%s %s): %s",
            self.worker_id,
            self.couch.url,
            self.features.vendor,
            self.features.version,
            "_db_updates"
            if self.features.db_updates
            else f"continuous feeds for up to {self.options.follow_cap} databases, polling the rest",
        )
        delay = self.features.db_updates_delay_ms
        if delay is not None and delay > 2 * DB_UPDATES_DELAY_ADVISED_MS:
            log.warning(
                "CouchDB reports database updates every %d ms ([global_changes] max_write_delay): each change waits "
                "up to that long before it is charged; set it to %d on every node (docs/operations.md)",
                delay,
                DB_UPDATES_DELAY_ADVISED_MS,
            )
        if self.options.use_leases:
            leases = Leases(
                self.couch.db(self.config.bookkeeper_db).ensure(),
                self.worker_id,
                buckets=self.options.lease_buckets,
                ttl=self.options.lease_ttl,
            )
            self.leases = leases
            self.metrics.gauge("leases_held", "Lease buckets this worker holds.", lambda: len(leases.held()))
        self.metrics.gauge(
            "couch_reachable",
            "1 while CouchDB answers the daemon's rounds; 0 from a round it did not answer until one it answers.",
            lambda: float(self._unreachable_since is None),
        )
        self.tailer = Tailer(
            self.couch,
            self.engine,
            self.metrics,
            self.options,
            owns=self.owns_db,
            db_updates=self.features.db_updates,
            worker=self.worker_id,
        ).start()
        self._round()
        self._control = threading.Thread(target=self._control_loop, name="control", daemon=True)
        self._control.start()
        self.ticker = Ticker(self.engine, self.owns, self.metrics, interval=self.options.tick_interval).start()
        self.metrics_server = MetricsServer(
            self.metrics, self.config.metrics_port, self.health, host=self.config.metrics_host
        ).start()
        return self

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop (see the module's docstring); the tick in hand is told to stop, not waited for."""
        self.stopping.set()
        deadline = time.monotonic() + grace
        if self.ticker:
            self.ticker.stop(wait=False)
        if self.tailer:
            self.tailer.stop(timeout=grace)
        if self._control:
            self._control.join(max(0.0, deadline - time.monotonic()))
        if self.leases:
            try:
                self.leases.release()
            except CouchError as exc:
                log.warning("releasing leases: %s (they expire in %.0fs)", exc, self.options.lease_ttl)
        if self.metrics_server:
            self.metrics_server.stop()
        log.info("stopped %s", self.worker_id)

    def _control_loop(self) -> None:
        """A round every discovery interval; free heap pages back to the OS about once a minute. A round that
        raises is logged and the next one runs (the thread never dies of a bad document)."""
        trimmed = time.monotonic()
        while not self.stopping.wait(self.options.discovery_interval):
            try:
                self._round()
            except Exception:
                self.metrics.count("feed_errors")
                log.exception("discovery/leases round failed")
            if time.monotonic() - trimmed >= TRIM_INTERVAL:
                trim()
                trimmed = time.monotonic()

    def _round(self) -> None:
        """Renew leases, list the databases, tail those owned. On failure keep tailing what we tail."""
        try:
            if self.leases:
                self.leases.renew()
            names = tailed_databases(self.couch)
        except CouchError as exc:
            self.metrics.count("feed_errors")
            if isinstance(exc, Unavailable):
                self._unreachable(exc)
            log.warning("discovery/leases round failed: %s", exc)
            return
        assert self.tailer is not None, "rounds run once the daemon started"
        self.tailer.sync({name for name in names if self.owns_db(name)})
        self._last_round = time.monotonic()
        if self._unreachable_since is not None:
            self._reachable()

    def _unreachable(self, exc: CouchError) -> None:
        """CouchDB did not answer a round (after the client's retries): said once per outage."""
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            self.metrics.count("couch_outages")
            log.error("CouchDB at %s does not answer (%s); retrying until it does", self.couch.url, exc)

    def _reachable(self) -> None:
        """CouchDB answers again: say so, and read every tailed database from its checkpoint (whatever a feed or
        `_db_updates` missed meanwhile)."""
        down = time.monotonic() - (self._unreachable_since or time.monotonic())
        self._unreachable_since = None
        self.metrics.count("couch_recoveries")
        queued = self.tailer.catch_up_all() if self.tailer else 0
        log.warning(
            "CouchDB at %s answers again after %.0f s; recovered: %d databases queued for catch-up",
            self.couch.url,
            down,
            queued,
        )

    def health(self) -> dict:
        """Not ok while stopping, when the last round is too old, when a thread of the daemon has died, or when
        a lease bucket has been held by no live worker for longer than a TTL (its accounts are not served)."""
        age = None if self._last_round is None else round(time.monotonic() - self._last_round, 1)
        dead = self._dead_threads()
        unserved = self.leases.unserved() if self.leases else []
        ok = (
            not self.stopping.is_set()
            and age is not None
            and age < 3 * self.options.discovery_interval + 30
            and not dead
            and not unserved
        )
        return {
            "ok": ok,
            "dead_threads": dead,
            "unserved_buckets": unserved,
            "worker": self.worker_id,
            "vendor": self.features and self.features.vendor,
            "db_updates": bool(self.features and self.features.db_updates),
            "db_updates_delay_ms": self.features and self.features.db_updates_delay_ms,
            "databases": len(self.tailer.consumers) if self.tailer else 0,
            "followed": len(self.tailer.followed) if self.tailer else 0,
            "leases": len(self.leases.held()) if self.leases else None,
            "last_round_seconds_ago": age,
            "couch_reachable": self._unreachable_since is None,
            **(self.holds.snapshot() if self.holds is not None else {}),
        }

    def _dead_threads(self) -> list[str]:
        if self.stopping.is_set() or self._control is None:
            return []
        dead = [] if self._control.is_alive() else ["control"]
        if self.ticker is not None and not self.ticker.scheduler.running:
            dead.append("scheduler")
        return dead

    # -- one shot
    def run_once(self) -> dict[str, object]:
        """Catch up every tailed database, then tick once for every account; {database: last seq}."""
        names = sorted(tailed_databases(self.couch), key=lambda n: (n not in SHARED_DBS, n))
        seqs = catch_up(
            self.couch,
            self.engine,
            names,
            metrics=self.metrics,
            consumer=self.options.consumer,
            batch_size=self.options.batch_size,
            checkpoint_interval=self.options.checkpoint_interval,
        )
        self.engine.tick(utc_now(), lambda account_id: True)
        return seqs
