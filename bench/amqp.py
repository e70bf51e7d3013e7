"""Benchmark: KAZOO 4.3's bookkeeper requests answered by `bookkeeper run` over a real RabbitMQ (issue 21).

Starts its own server (`--server`: the in-memory embedded server by default, or an Apache CouchDB node) and a
private RabbitMQ node, provisions N customers (plan: a device at
30.00 a month; 1,000.00 credited; one device), and runs `bookkeeper run` with `BOOKKEEPER_AMQP_URL` as a separate
process, waiting until its start-up tick has evaluated every account. Then, as KAZOO's `kz_amqp_worker` would:

- standing: one unmeasured `standing_req` per account first (a running deployment has its accounts' documents
  in hand), then requests for random accounts published open-loop at `--rate` per second for `--seconds`; the
  latency of each is from publishing to receiving its reply (KAZOO gives up after 2,000 ms);
- update: a device added to each of `--updates` accounts, then one `update_req` per account published at once;
  `update_per_s` is how many were answered per second (each one an evaluation that writes the new charges);
  `updates_unanswered` those that expired in the queue (20 s, when KAZOO has given up on them) or got no answer.

    .venv/bin/python bench/amqp.py --accounts 1000 --rate 200 --seconds 30 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' `waiting`

from waiting import wait_until

from bookkeeper import plans, provision
from bookkeeper.amqp import protocol
from bookkeeper.amqp.broker import LocalBroker
from bookkeeper.amqp.kazoo import KazooClient
from bookkeeper.config import Config, load_config
from bookkeeper.couch import Couch
from bookkeeper.embedded import free_port
from bookkeeper.ledger import Ledger
from bookkeeper.servers import make_server, stop_servers_on_sigterm
from feeds.metrics import scrape

BIN = Path(sys.executable).parent / "bookkeeper"
TYPE = "couch_bookkeeper"
PLAN = {"name": "Bench", "plan": {"devices": {"sip_device": {"rate": 30, "activation_charge": 2}}}}


def provision_world(couch: Couch, config: Config, n: int) -> tuple[str, list[str]]:
    """The master (vendor of the plan) and N funded customers with one device (four at a time)."""
    now = datetime.now(UTC)
    master = provision.new_account_id()
    provision.create_account(couch, config, master, "Bench master", [], now)
    provision.put_plan(couch, master, "bench", PLAN, now)
    ledger = Ledger(couch)

    def one(i: int) -> str:
        account = provision.new_account_id()
        provision.create_account(couch, config, account, f"Bench {i}", [master], now, plans={"bench": master})
        provision.add_docs(couch, account, [{"pvt_type": "device"}], now)
        provision.fund(ledger, account, 1000, now)
        return account

    with ThreadPoolExecutor(4) as pool:
        return master, list(pool.map(one, range(n)))


def standing_load(kazoo: KazooClient, master: str, accounts: list[str], rate: float) -> list[float]:
    """Open-loop standing requests for `accounts` in turn; the latency (ms) of each, `inf` for one unanswered
    within 2 s."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    for i, account in enumerate(accounts):
        due = start + i / rate
        while (left := due - time.monotonic()) > 0:
            kazoo.connection.process_data_events(time_limit=left)
        message = kazoo.message(
            "standing",
            {
                "Account-ID": account,
                "Bookkeeper-ID": "bench",
                "Bookkeeper-Type": TYPE,
                "Vendor-ID": master,
                "Items": [],
                "Estimated-Withdrawal": 10_000,
            },
        )
        kazoo.publish("standing", message)
        sent[message["Msg-ID"]] = time.monotonic()
    deadline = time.monotonic() + 2.0  # KAZOO's standing timeout: the last replies arrive by then or never
    while (left := deadline - time.monotonic()) > 0:
        kazoo.connection.process_data_events(time_limit=left)
    out = []
    for msg_id, at in sent.items():
        got = kazoo.replies.get(msg_id)
        if got is None or got[1].get("Status") != "good_standing":
            out.append(float("inf"))
        else:
            out.append((got[0] - at) * 1000)
    return out


def update_burst(kazoo: KazooClient, couch: Couch, master: str, ids: list[str]) -> tuple[float, int]:
    """A device added to each account, then an update_req for each at once; (seconds until the last answer, how
    many were never answered)."""
    now = datetime.now(UTC)
    for account in ids:
        provision.add_docs(couch, account, [{"pvt_type": "device"}], now)
    invoice = json.loads(
        protocol.encode(
            plans.quote(
                [plans.load_plan(PLAN, where="bench")],
                {"devices": {"sip_device": 2}},
                current={"devices": {"sip_device": 1}},
            )
        )
    )
    invoice.pop("plan")
    began = time.monotonic()
    msg_ids = []
    for account in ids:
        message = kazoo.message(
            "update",
            {
                "Account-ID": account,
                "Bookkeeper-ID": "bench",
                "Bookkeeper-Type": TYPE,
                "Vendor-ID": master,
                "Invoice": invoice,
            },
        )
        kazoo.publish("update", message)
        msg_ids.append(message["Msg-ID"])
    unanswered = 0
    for msg_id in msg_ids:
        reply = kazoo.wait(msg_id, 120)
        if reply is None:  # expired in the queue (its 20 s TTL: KAZOO gave up on it), or lost
            unanswered += 1
        elif reply["Status"] != "success":
            raise SystemExit(f"bench: update_req {msg_id} answered {reply!r}")
    answered = [kazoo.replies[m][0] for m in msg_ids if m in kazoo.replies]
    return (max(answered) - began if answered else float("inf")), unanswered


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(n: int, rate: float, seconds: float, updates: int, server_kind: str) -> dict:
    with tempfile.TemporaryDirectory() as var:
        server = make_server(server_kind, Path(var) / "couch").start()
        broker = LocalBroker(Path(var) / "rabbit").start()
        daemon = None
        try:
            couch = Couch(server.url, namespace="bench-")
            config = load_config(env={}, couch_url=server.url, namespace="bench-")
            began = time.monotonic()
            master, ids = provision_world(couch, config, n)
            provisioned = time.monotonic() - began
            metrics_port = free_port()
            env = {
                **os.environ,
                "BOOKKEEPER_COUCH_URL": server.url,
                "BOOKKEEPER_NAMESPACE": "bench-",
                "BOOKKEEPER_MASTER_ACCOUNT": master,
                "BOOKKEEPER_AMQP_URL": broker.url,
            }
            with open(Path(var) / "daemon.log", "w") as log:  # the daemon holds its own descriptor
                daemon = subprocess.Popen(
                    [
                        str(BIN),
                        "run",
                        "--worker-id",
                        "bench",
                        "--metrics-port",
                        str(metrics_port),
                        "--hooks-port",
                        str(free_port()),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            wait_until(
                lambda: scrape(metrics_port).get("bookkeeper_amqp_connections_total", 0) >= 1,
                120,
                every=0.5,
                what="the AMQP connection",
            )
            wait_until(
                lambda: scrape(metrics_port).get("bookkeeper_ticks_total", 0) >= 1,
                1800,
                every=0.5,
                what="the start-up tick",
            )
            kazoo = KazooClient(broker.url)
            standing_load(kazoo, master, random.sample(ids, len(ids)), rate)  # warm-up, not measured
            latencies = standing_load(kazoo, master, random.choices(ids, k=int(rate * seconds)), rate)
            burst = ids[:updates]
            update_seconds, updates_unanswered = update_burst(kazoo, couch, master, burst)
            kazoo.close()
        finally:
            if daemon is not None:
                daemon.terminate()
                daemon.wait(60)
            broker.stop()
            server.stop()
    answered = [v for v in latencies if v != float("inf")]
    return {
        "server": server_kind,
        "accounts": n,
        "rate_per_s": rate,
        "standing_requests": len(latencies),
        "standing_unanswered": len(latencies) - len(answered),
        "standing_p50_ms": round(percentile(latencies, 0.50), 1),
        "standing_p99_ms": round(percentile(latencies, 0.99), 1),
        "standing_max_ms": round(max(latencies), 1),
        "updates": len(burst),
        "updates_unanswered": updates_unanswered,
        "update_seconds": round(update_seconds, 3),
        "update_per_s": round((len(burst) - updates_unanswered) / update_seconds, 1),
        "provision_seconds": round(provisioned, 1),
    }


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="standing requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the standing load runs")
    parser.add_argument("--updates", type=int, default=200, help="accounts updated in the update burst")
    parser.add_argument("--server", default="embedded", help="embedded, couchdb, cluster or a CouchDB URL")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.accounts, args.rate, args.seconds, min(args.updates, args.accounts), args.server)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['standing_requests']} standing requests at {result['rate_per_s']}/s over "
            f"{result['accounts']} accounts: p50 {result['standing_p50_ms']} ms, p99 {result['standing_p99_ms']} ms "
            f"({result['standing_unanswered']} unanswered); {result['updates']} updates at "
            f"{result['update_per_s']}/s"
        )


if __name__ == "__main__":
    main()
