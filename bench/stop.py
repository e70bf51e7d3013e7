"""Benchmark: how long `bookkeeper run` takes to stop on SIGTERM (issue 24: within 5 s on every server).

Provisions `--accounts` funded accounts (bench/soak.py's world) on a fresh server of `--server`, then starts the
daemon and stops it with SIGTERM three ways: during its start-up tick (the accounts being evaluated), idle once
caught up, and under a stream of device writes. Each stop is timed from the signal to the process's exit; the exit
code must be 0.

    .venv/bin/python bench/stop.py --server couchdb --accounts 200 --json
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(2, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' `waiting`

import soak
from waiting import wait_until

from bookkeeper import provision
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.embedded import free_port
from bookkeeper.servers import KINDS, make_server, stop_servers_on_sigterm
from feeds.metrics import scrape


def stop(daemon: subprocess.Popen) -> dict:
    began = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    try:
        code = daemon.wait(timeout=120)
    except subprocess.TimeoutExpired:
        daemon.kill()
        code = daemon.wait()
    return {"seconds": round(time.monotonic() - began, 2), "exit": code}


def run(kind: str, accounts: int) -> dict:
    with tempfile.TemporaryDirectory() as var:
        server = make_server(kind, Path(var) / "server").start()
        try:
            couch = Couch(server.url, namespace=soak.NAMESPACE)
            config = load_config(env={}, couch_url=server.url, namespace=soak.NAMESPACE)
            ids = soak.provision_world(couch, config, accounts)
            stops: dict[str, Any] = {}
            port = free_port()
            daemon = soak.start_daemon(server.url, Path(var), port, "stop-bench")
            wait_until(lambda: scrape(port), 120, every=0.2, what="the metrics")  # the start-up tick has begun
            time.sleep(1.0)  # part of the measure: the stop lands one second into the start-up tick
            stops["during_startup_tick"] = stop(daemon)
            daemon = soak.start_daemon(server.url, Path(var), port, "stop-bench")
            stops["caught_up_after_s"] = soak.wait_caught_up(port, daemon)
            stops["idle"] = stop(daemon)
            daemon = soak.start_daemon(server.url, Path(var), port, "stop-bench")
            soak.wait_caught_up(port, daemon)
            done = threading.Event()

            def writes() -> None:
                n = 0
                while not done.is_set():
                    provision.add_docs(
                        couch,
                        ids[n % len(ids)],
                        [{"_id": f"stop{n}", "pvt_type": "device", "device_type": "sip_device"}],
                        datetime.now(UTC),
                    )
                    n += 1
                    time.sleep(0.02)

            writer = threading.Thread(target=writes, daemon=True)
            writer.start()
            time.sleep(3)  # part of the measure: the stop lands after 3 s of writes
            stops["under_writes"] = stop(daemon)
            done.set()
            writer.join()
            worst = max(v["seconds"] for v in stops.values() if isinstance(v, dict))
            return {
                "server": kind,
                "accounts": accounts,
                **stops,
                "max_stop_s": worst,
                "all_exit_0": all(v["exit"] == 0 for v in stops.values() if isinstance(v, dict)),
            }
        finally:
            server.stop()


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=KINDS, default="embedded")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.server, args.accounts)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
