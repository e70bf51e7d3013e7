"""The ticker: a tick at start-up, periodic ticks, a day-start job per zone, never two ticks at once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from recording import RecordingEngine
from waiting import wait_until

from feeds.metrics import Metrics
from feeds.scheduler import DAY_START_PREFIX, Ticker


class SlowEngine(RecordingEngine):
    """Ticks take a while and record any overlap."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.running, self.overlaps = threading.Lock(), 0

    def tick(self, now, owns, stop=None):
        if not self.running.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            time.sleep(0.15)  # a tick that takes a while: the behaviour under test
            super().tick(now, owns, stop)
        finally:
            self.running.release()


def test_ticks_at_start_then_periodically_never_concurrently():
    engine, metrics = SlowEngine(), Metrics()
    ticker = Ticker(engine, lambda a: True, metrics, interval=0.05).start()
    try:
        wait_until(lambda: len(engine.ticks) >= 3, timeout=5)
        jobs = ticker.scheduler.get_jobs()
        fired = len(engine.ticks) + len(jobs)
        for job in jobs:  # fire everything at once: they must still queue
            job.modify(next_run_time=datetime.now(UTC))
        wait_until(lambda: len(engine.ticks) >= fired, timeout=5, what="the fired jobs ran")
    finally:
        ticker.stop()
    assert engine.overlaps == 0
    assert all(t.tzinfo is not None for t in engine.ticks)
    assert metrics.value("ticks") == len(engine.ticks)


def test_a_day_start_job_at_midnight_in_each_zone():
    engine = RecordingEngine(zones={"America/New_York", "Asia/Kolkata"})
    ticker = Ticker(engine, lambda a: True, Metrics(), interval=3600).start()
    try:
        wait_until(lambda: ticker.zones() == {"America/New_York", "Asia/Kolkata"}, timeout=5)
        for zone in ticker.zones():
            run = ticker.scheduler.get_job(DAY_START_PREFIX + zone).next_run_time.astimezone(ZoneInfo(zone))
            assert (run.hour, run.minute, run.second) == (0, 0, 0)
        engine.zones = {"Asia/Kolkata"}
        ticker.refresh_zones()
        assert ticker.zones() == {"Asia/Kolkata"}
    finally:
        ticker.stop()


def test_a_failing_tick_is_counted_and_the_next_one_runs():
    class Failing(RecordingEngine):
        def tick(self, now, owns, stop=None):
            super().tick(now, owns, stop)
            raise RuntimeError("tick failed (test)")

    engine, metrics = Failing(), Metrics()
    ticker = Ticker(engine, lambda a: True, metrics, interval=0.05).start()
    try:
        wait_until(lambda: len(engine.ticks) >= 2, timeout=5)
    finally:
        ticker.stop()
    assert metrics.value("engine_errors") >= 2
