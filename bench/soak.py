"""Soak: a running `bookkeeper run` daemon under a steady flow of device writes (issue 9).

Starts its own in-memory embedded server (or uses `--couch-url`), provisions `--accounts` funded accounts under one
plan (a device costs an activation charge), starts the daemon as a subprocess (`bookkeeper run`), then for
`--minutes` writes `--rate` new devices per second round-robin over the accounts (open loop: the n-th write is
issued at n / rate, up to WRITERS in flight, so a slow answer does not lower the rate) and, every minute, reports the
lag from a device write to its activation charge being readable in the account's MODB (p50/p90/p99; found by a
longpoll `_changes` of the MODB of each account with outstanding writes, so a figure is the time until the charge is
readable plus one HTTP round trip) and the daemon's RSS (VmRSS of its /proc/<pid>/status).

    .venv/bin/python bench/soak.py --minutes 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' `waiting`

from waiting import wait_until

from bookkeeper import provision
from bookkeeper.config import Config, load_config
from bookkeeper.couch import Couch, NotFound, Unavailable
from bookkeeper.dbnames import modb
from bookkeeper.embedded import free_port
from bookkeeper.ledger.documents import entry_of
from bookkeeper.servers import KINDS, make_server, stop_servers_on_sigterm
from feeds.malloc import rss_mb
from feeds.metrics import scrape

GRACE_S = 5  # after the last write, how long its charge may take to be counted
WRITERS = 4  # device writes in flight at once, so a slow answer does not lower the rate


class Counter:
    def __init__(self):
        self.value, self._lock = 0, threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


PLAN = {"name": "Soak", "plan": {"devices": {"sip_device": {"rate": 1, "activation_charge": 0.01}}}}
NAMESPACE = "soak-"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))], 1)


class Watcher(threading.Thread):
    """Watches the MODBs of accounts with devices not yet charged; a charged activation of quantity q settles the q
    oldest outstanding writes of that account.

    Each account with outstanding writes has one waiter in a bounded pool: a longpoll `_changes` of the account's
    current MODB from the last seq seen, repeated while the account still has outstanding writes, so the watching
    costs about one request per MODB change (PouchDB Server answers a longpoll with one change) and adds no
    polling delay. `wrote` starts a waiter for an account that has
    none; a waiter ends, under the same lock, once its account has nothing outstanding (or yields its worker to a
    queued account after a round, so that more accounts than workers are served in turn). This thread itself only
    shuts the pool down once `stop` is set; a waiter notices `stop` when its longpoll ends (at most READ_TIMEOUT_S;
    at once when the server stops)."""

    LONGPOLL_MS = 5000
    # PouchDB Server ignores a longpoll's `timeout` (it holds the request until a change, gzip-buffering its
    # heartbeats), so the client's read timeout is what ends a quiet longpoll there; CouchDB answers at LONGPOLL_MS.
    READ_TIMEOUT_S = LONGPOLL_MS / 1000 + 5
    MISSING_RETRY_S = 0.05  # the MODB does not exist yet (the daemon creates it with the first charge of the month)
    ERROR_RETRY_S = 0.2

    def __init__(self, couch: Couch, stop: threading.Event, workers: int = 64):
        super().__init__(daemon=True)
        self.couch, self.stop = couch, stop
        self.pending: dict[str, deque] = defaultdict(deque)
        self.since: dict[str, object] = {}
        self.lags_ms: list[float] = []
        self.lock = threading.Lock()
        self.active: set[str] = set()  # accounts with a waiter running or queued
        self.queued = 0  # waiters submitted but not yet started
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="soak-watch", initializer=self._worker_couch
        )

    def _worker_couch(self) -> None:
        """Each worker its own Couch (its own requests session), same server, credentials and namespace; the HTTP
        read timeout outlasts the longpoll, and transport errors are retried by the waiter (which checks `stop`)."""
        couch = Couch(self.couch.url, timeout=(5.0, self.READ_TIMEOUT_S), retries=0, namespace=self.couch.namespace)
        couch.session.auth = self.couch.session.auth
        self.local.couch = couch

    def _submit(self, account: str) -> None:
        """Queue a waiter for `account`; the caller holds the lock and has marked the account active."""
        self.queued += 1
        self.pool.submit(self._wait, account)

    def wrote(self, account: str, at: float) -> None:
        with self.lock:
            self.pending[account].append(at)
            if account not in self.active and not self.stop.is_set():
                self.active.add(account)
                self._submit(account)

    def _wait(self, account: str) -> None:
        with self.lock:
            self.queued -= 1
        try:
            self._watch(account)
        except Exception:  # a bench: report, free the account; its next write starts a new waiter
            traceback.print_exc()
            with self.lock:
                self.active.discard(account)

    def _watch(self, account: str) -> None:
        couch, rounds = self.local.couch, 0
        while True:
            with self.lock:
                if self.stop.is_set() or not self.pending[account]:
                    self.active.discard(account)
                    return
                if rounds and self.queued:
                    self._submit(account)  # still active: the waiter continues behind the queued ones
                    return
            rounds += 1
            now = datetime.now(UTC)
            name = modb(account, now.year, now.month)
            asked = time.monotonic()
            try:
                feed = couch.db(name).changes(
                    since=self.since.get(name, 0), include_docs=True, feed="longpoll", timeout=self.LONGPOLL_MS
                )
            except NotFound:
                self.stop.wait(self.MISSING_RETRY_S)
                continue
            except Unavailable:  # a quiet longpoll that timed out: again at once; a failed request: after a pause
                if time.monotonic() - asked < self.LONGPOLL_MS / 1000:
                    self.stop.wait(self.ERROR_RETRY_S)
                continue
            seen = time.time()
            self.since[name] = feed["last_seq"]
            for row in feed["results"]:
                doc = row.get("doc") or {}
                if row["id"].startswith("_") or doc.get("pvt_type") != "ledger":
                    continue
                entry = entry_of(doc, name, account, "4.3")
                if entry.type == "debit" and entry.kind == "activation":
                    with self.lock:
                        for _ in range(int(entry.quantity or 1)):
                            if self.pending[account]:
                                self.lags_ms.append((seen - self.pending[account].popleft()) * 1000)

    def run(self) -> None:
        self.stop.wait()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def take(self) -> list[float]:
        with self.lock:
            out, self.lags_ms = self.lags_ms, []
        return out


def start_daemon(url: str, var: Path, port: int, worker_id: str) -> subprocess.Popen:
    """`bookkeeper run` on `url` in the bench's namespace, metrics on `port`, its log appended to var/daemon.log."""
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": url, "BOOKKEEPER_NAMESPACE": NAMESPACE}
    with open(var / "daemon.log", "ab") as log:  # the daemon holds its own descriptor
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("bookkeeper")),
                "run",
                "--worker-id",
                worker_id,
                "--metrics-port",
                str(port),
                "--hooks-port",
                str(free_port()),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def provision_world(couch: Couch, config: Config, accounts: int) -> list[str]:
    _, ids = provision.funded_customers(couch, config, "soak", PLAN, accounts, 100000, datetime.now(UTC), name="Soak")
    return ids


def wait_caught_up(port: int, daemon: subprocess.Popen, limit: float = 900.0) -> float:
    """Seconds until the daemon's start-up tick is done and every change is handled (three quiet reads in a row)."""
    began, quiet = time.monotonic(), 0

    def settled() -> bool:
        nonlocal quiet
        if daemon.poll() is not None:
            raise RuntimeError("the daemon exited before it caught up")
        now = scrape(port)
        idle = now.get("bookkeeper_drain_queue", 1) == 0 and now.get("bookkeeper_drains_active", 1) == 0
        quiet = quiet + 1 if idle and now.get("bookkeeper_ticks_total", 0) > 0 else 0
        return quiet >= 3

    wait_until(settled, limit, every=1.0, what="the daemon caught up")
    return round(time.monotonic() - began, 1)


def run(minutes: float, rate: float, accounts: int, couch_url: str | None, report, kind: str = "embedded") -> dict:
    """`couch_url`: an existing server; else a fresh one of `kind` (bookkeeper.servers)."""
    with tempfile.TemporaryDirectory() as var:
        server = None
        if couch_url is None:
            server = make_server(kind, Path(var) / "server").start()
            couch_url = server.url
        daemon = None
        try:
            couch = Couch(couch_url, namespace=NAMESPACE)
            config = load_config(env={}, couch_url=couch_url, namespace=NAMESPACE)
            ids = provision_world(couch, config, accounts)
            metrics_port = free_port()
            daemon = start_daemon(couch_url, Path(var), metrics_port, "soak")
            stop = threading.Event()
            watcher = Watcher(Couch(couch_url, namespace=NAMESPACE), stop)
            watcher.start()
            caught_up_s = wait_caught_up(metrics_port, daemon)  # the start-up catch-up of the provisioned accounts
            minutes_out, all_lags, n = [], [], 0
            written = Counter()
            writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="writer")

            def write(n: int, account: str) -> None:
                provision.add_docs(
                    couch,
                    account,
                    [{"_id": f"soak{n}", "pvt_type": "device", "device_type": "sip_device"}],
                    datetime.now(UTC),
                )
                watcher.wrote(account, time.time())
                written.add()

            began = time.monotonic()
            for minute in range(1, max(1, round(minutes)) + 1):
                end = began + 60 * min(minute, minutes)
                while (due := began + n / rate) < end:  # open loop: the n-th write is due at n / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    writers.submit(write, n + 1, ids[n % len(ids)])
                    n += 1
                lags = watcher.take()
                all_lags += lags
                row = {
                    "minute": minute,
                    "writes": written.value,
                    "charged": len(all_lags),
                    "lag_p50_ms": pct(lags, 50),
                    "lag_p90_ms": pct(lags, 90),
                    "lag_p99_ms": pct(lags, 99),
                    "daemon_rss_mb": rss_mb(daemon.pid),
                    "daemon_alive": daemon.poll() is None,
                }
                minutes_out.append(row)
                report(row)
            writers.shutdown()
            time.sleep(GRACE_S)  # part of the measure: a write not charged within GRACE_S is reported as not charged
            all_lags += watcher.take()
            stop.set()
            rss = [m["daemon_rss_mb"] for m in minutes_out if m["daemon_rss_mb"]]
            return {
                "minutes": minutes_out,
                "accounts": accounts,
                "rate": rate,
                "writes": written.value,
                "charged": len(all_lags),
                "lag_p50_ms": pct(all_lags, 50),
                "lag_p99_ms": pct(all_lags, 99),
                "lag_max_ms": round(max(all_lags), 1) if all_lags else None,
                "rss_first_mb": rss[0] if rss else None,
                "rss_last_mb": rss[-1] if rss else None,
                "achieved_rate": round(written.value / (time.monotonic() - began - GRACE_S), 1),
                "catch_up_s": caught_up_s,
            }
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
            if server is not None:
                server.stop()


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50.0, help="device writes per second")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--couch-url", help="an existing server (default: a fresh one of --server)")
    parser.add_argument("--server", choices=KINDS, default="embedded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = (
        (lambda row: print(json.dumps(row), flush=True))
        if args.json
        else (lambda row: print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True))
    )
    result = run(args.minutes, args.rate, args.accounts, args.couch_url, report, args.server)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items() if k != "minutes"))


if __name__ == "__main__":
    main()
