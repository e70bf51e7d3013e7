"""Time-driven work: APScheduler 3.x calling `engine.tick(now, owns)`.

Jobs: a periodic tick (dirty services docs, anything missed) whose first run is at start-up (a catch-up of whatever
was missed while the daemon was down; the engine's tick is idempotent, so nothing runs twice), and a cron job at
00:00 in each reseller time zone (`engine.timezones()`, re-read at every periodic tick). One executor thread
and max_instances=1 with coalescing: jobs never run concurrently and a backlog collapses into one run. (No one-off
job: APScheduler 3 raises JobLookupError in its own thread when a shutdown races the removal of a job that ran.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from .engine import Engine
from .malloc import settle
from .metrics import Metrics

log = logging.getLogger(__name__)

DAY_START_PREFIX = "day-start:"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ticker:
    """The scheduler of the engine's ticks."""

    def __init__(
        self,
        engine: Engine,
        owns: Callable[[str], bool],
        metrics: Metrics,
        *,
        interval: float = 300.0,
        now: Callable[[], datetime] = utc_now,
    ):
        self.engine, self.owns, self.metrics, self.now = engine, owns, metrics, now
        self.interval = interval
        self.stopping = threading.Event()
        self._zones: set[str] = set()
        self._settled = False
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    def start(self) -> Ticker:
        self.scheduler.add_job(
            self.periodic,
            "interval",
            seconds=self.interval,
            next_run_time=utc_now(),  # the first run is the catch-up tick at start-up
            id="periodic",
            name="periodic tick",
        )
        self.scheduler.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Run nothing more; the tick in hand stops after its batch (waited for with `wait`)."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def zones(self) -> set[str]:
        """The zones with a day-start job (kept here: asking the scheduler from inside a job can deadlock with
        a shutdown waiting for that job)."""
        return set(self._zones)

    def periodic(self) -> None:
        self.refresh_zones()
        self.tick()

    def tick(self) -> None:
        now = self.now()
        try:
            self.engine.tick(now, self.owns, self.stopping)
            if not self._settled:  # the start-up tick filled the caches
                settle()
                self._settled = True
            self.metrics.count("ticks")
        except Exception:
            self.metrics.count("engine_errors")
            log.exception("tick at %s failed; the next tick catches up", now.isoformat())

    def refresh_zones(self) -> None:
        """One cron job at 00:00 in each zone where a reseller's day starts."""
        try:
            wanted = set(self.engine.timezones())
        except Exception:
            self.metrics.count("engine_errors")
            log.exception("reading the resellers' time zones failed; keeping %s", sorted(self.zones()))
            return
        current = self.zones()
        if not self.scheduler.running:
            return
        for zone in current - wanted:
            self.scheduler.remove_job(DAY_START_PREFIX + zone)
            self._zones.discard(zone)
        for zone in sorted(wanted - current):
            self.scheduler.add_job(
                self.tick,
                CronTrigger(hour=0, minute=0, timezone=zone),
                id=DAY_START_PREFIX + zone,
                name=f"day start in {zone}",
            )
            self._zones.add(zone)
