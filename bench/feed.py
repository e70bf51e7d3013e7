"""Benchmark of the daemon (issue 6): charge lag under steady writes, and memory while tailing many databases.

1. Lag: `bookkeeper run` (the real engine) over `--accounts` funded accounts on its own in-memory server, a steady
   `--rate` device writes/s for `--seconds`; the lag from a device write to its charge being readable in the
   account's monthly DB (bench/soak.py's measurement, one minute-long round).
2. Memory: the daemon's tailing machinery (a counting engine, in this process) over `--dbs` account databases
   with `--follow-cap` continuous feeds; RSS once every database is caught up.

    .venv/bin/python bench/feed.py --json                      # 1,000 accounts at 50/s for 60 s; 10,000 DBs
    .venv/bin/python bench/feed.py --dbs 2000 --seconds 30 --json
    .venv/bin/python bench/feed.py --server couchdb --json     # on a CouchDB node: `_db_updates`, one socket
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' `waiting`

from waiting import wait_until

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db
from bookkeeper.servers import KINDS, make_server, stop_servers_on_sigterm
from feeds.daemon import Daemon
from feeds.malloc import rss_mb
from feeds.options import FeedOptions

CREATORS = 8  # concurrent database creations while setting up


class TimingEngine:
    """Counts handled rows and records, for documents carrying `written_at`, the lag to their handling."""

    def __init__(self):
        self.handled, self.lags_ms, self.lock = 0, [], threading.Lock()

    def handle_changes(self, db_name, rows):
        now = time.time()
        with self.lock:
            self.handled += len(rows)
            self.lags_ms += [
                (now - r["doc"]["written_at"]) * 1000 for r in rows if "written_at" in (r.get("doc") or {})
            ]

    def tick(self, now, owns, stop=None):
        pass

    def timezones(self):
        return {"UTC"}


def open_sockets() -> int:
    """Sockets this process holds open (the daemon's connections to the server, its metrics listener)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own descriptor among them)
            count += os.readlink(fd).startswith("socket:")
    return count


def tailing_memory(
    dbs: int, follow_cap: int, rate: float = 20.0, seconds: float = 10.0, kind: str = "embedded"
) -> dict:
    with tempfile.TemporaryDirectory() as var:
        server = make_server(kind, Path(var) / "server").start()
        try:
            couch = Couch(server.url)
            names = [account_db(uuid.uuid4().hex) for _ in range(dbs)]

            def seeded(name: str) -> None:
                db = couch.db(name)
                db.create()
                db.put({"_id": "seed"})

            with ThreadPoolExecutor(CREATORS) as pool:  # set-up only: creating 10,000 databases one by one is slow
                list(pool.map(seeded, names))
            engine = TimingEngine()
            config = load_config(env={}, couch_url=server.url, var_dir=var, metrics_port=0, worker_id="bench")
            began = time.perf_counter()
            daemon = Daemon(couch, config, engine, options=FeedOptions(follow_cap=follow_cap)).start()
            try:
                wait_until(lambda: engine.handled >= dbs, 1800, every=0.2, what="every database's seed handled")
                caught_up_s = time.perf_counter() - began
                rss_caught_up = rss_mb()
                sockets = open_sockets()
                deadline, writes = time.monotonic() + seconds, 0
                while time.monotonic() < deadline:
                    couch.db(random.choice(names)).put({"_id": uuid.uuid4().hex, "written_at": time.time()})
                    writes += 1
                    time.sleep(1 / rate)  # the write rate under test
                wait_until(lambda: len(engine.lags_ms) >= writes, 120, every=0.1, what="every write handled")
                lags = sorted(engine.lags_ms)
            finally:
                daemon.stop()
            return {
                "dbs": dbs,
                "follow_cap": follow_cap,
                "catch_up_s": round(caught_up_s, 1),
                "rss_mb": rss_caught_up,
                "open_sockets": sockets,
                "writes": len(lags),
                "lag_p50_ms": round(statistics.median(lags), 1) if lags else None,
                "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1], 1) if lags else None,
            }
        finally:
            server.stop()


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="device writes per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dbs", type=int, default=10_000)
    parser.add_argument("--follow-cap", type=int, default=200)
    parser.add_argument("--server", choices=KINDS, default="embedded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import soak

    lag = soak.run(args.seconds / 60, args.rate, args.accounts, None, lambda row: None, args.server)
    memory = tailing_memory(args.dbs, args.follow_cap, kind=args.server)
    result = {
        "lag_p50_ms": lag["lag_p50_ms"],
        "lag_p99_ms": lag["lag_p99_ms"],
        "rss_mb": memory["rss_mb"],
        "accounts": args.accounts,
        "rate": args.rate,
        "achieved_rate": lag["achieved_rate"],
        "writes": lag["writes"],
        "charged": lag["charged"],
        "daemon_rss_mb": lag["rss_last_mb"],
        "dbs": args.dbs,
        "follow_cap": args.follow_cap,
        "catch_up_s": memory["catch_up_s"],
        "server": args.server,
        "open_sockets": memory["open_sockets"],
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
