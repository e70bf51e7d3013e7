"""Benchmark: the period-start billing run over N accounts with 5 plan items each (issue 9).

Starts its own server (`--server`: the in-memory embedded one, a CouchDB node or a three-node cluster) and
provisions N KAZOO accounts under one master (account DB, services doc, limits, devices, users, numbers, and a
November MODB with a payment). It runs the daemon's tick of November's last day, which counts every account and
creates December's MODBs ahead (as KAZOO's `kt_modb_creation` does). Then it times `billing run --at <period start>`
(the engine's evaluate_batches: every MRC charged) and, in the same run, raw `_bulk_docs` of the same number of
equivalent documents: the same charge documents and a carry-forward written into the same per-account monthly DBs,
one request per account, as a plain HTTP client would, with as many requests in flight as the engine's pool
(`THREADS`; both stated in the JSON).

    .venv/bin/python bench/billing_run.py --accounts 1000 --json
    .venv/bin/python bench/billing_run.py --server couchdb --accounts 10000 --json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bookkeeper import designdocs, provision
from bookkeeper.billing import THREADS, BillingEngine
from bookkeeper.clock import SimulatedClock
from bookkeeper.config import Config, load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import modb
from bookkeeper.ledger import documents as ledger_docs
from bookkeeper.servers import KINDS, make_server, stop_servers_on_sigterm

PERIOD_START = datetime(2026, 12, 1, tzinfo=UTC)
BEFORE = datetime(2026, 11, 20, tzinfo=UTC)
DAY_BEFORE = datetime(2026, 11, 30, tzinfo=UTC)
PLAN = {
    "name": "Bench",
    "plan": {
        "devices": {"sip_device": {"rate": 10}, "softphone": {"rate": 4}},
        "users": {"_all": {"as": "user", "rate": 8}},
        "phone_numbers": {"did_us": {"rate": 1.5}},
        "limits": {"twoway_trunks": {"rate": 24.95}},
    },
}
DOCS = [
    {"pvt_type": "device", "device_type": "sip_device"},
    {"pvt_type": "device", "device_type": "softphone"},
    {"pvt_type": "user", "priv_level": "user"},
    {"pvt_type": "number", "_id": "+14155550100"},
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def history(couch: Couch, account: str) -> None:
    """November as KAZOO would have left it: the MODB with its design docs, the rollover and a 1,000.00 payment
    (written directly, as a KAZOO payment is: the bench measures billing, not the ledger's first write)."""
    db = couch.db(modb(account, BEFORE.year, BEFORE.month))
    db.create()
    designdocs.install_kind(db, "modb")
    carry = ledger_docs.carry_doc(
        "4.3",
        ledger_docs.carry_id("4.3", BEFORE.year, BEFORE.month),
        account,
        BEFORE.year,
        BEFORE.month,
        0,
        "202610",
        BEFORE,
    )
    what = ledger_docs.Explained("credit", "manual_addition", "bench funds", "USD")
    payment = ledger_docs.build(
        "4.3",
        ledger_docs.random_id(BEFORE.year, BEFORE.month),
        account,
        BEFORE.year,
        BEFORE.month,
        "credit",
        1000 * 10000,
        BEFORE,
        what,
    )
    db.bulk_docs([carry, payment])


def provision_world(couch: Couch, config: Config, n: int) -> tuple[str, list[str]]:
    """The master with the plan, then N accounts with their November (four at a time: provisioning is not what
    is measured)."""
    master = provision.new_account_id()
    provision.create_account(couch, config, master, "Bench master", [], BEFORE)
    provision.put_plan(couch, master, "bench", PLAN, BEFORE)

    def one(i: int) -> str:
        account = provision.new_account_id()
        provision.create_account(couch, config, account, f"Bench {i}", [master], BEFORE, plans={"bench": master})
        provision.put_limits(couch, account, {"twoway_trunks": 1}, BEFORE)
        provision.add_docs(couch, account, [dict(d, _id=d.get("_id", uuid.uuid4().hex)) for d in DOCS], BEFORE)
        history(couch, account)
        return account

    with ThreadPoolExecutor(4) as pool:
        return master, list(pool.map(one, range(n)))


def mrc_charges(batches) -> list[tuple[str, tuple]]:
    """(account, its MRC charges as (amount, key suffix, description)) for each account the run evaluated. Every
    account has the same plan and quantities, so the charges are kept once and shared: the bench's own memory
    stays flat in N like the run's."""
    charged: list[tuple[str, tuple]] = []
    templates: dict[tuple, tuple] = {}
    for results in batches:
        for account, evaluation in results.items():
            if isinstance(evaluation, Exception):
                raise evaluation
            charges = tuple(
                (c.amount, c.key.removeprefix(account), c.description)
                for c in evaluation.decision.charges
                if c.kind == "mrc"
            )
            charged.append((account, templates.setdefault(charges, charges)))
    return charged


def raw_docs(account: str, template: tuple) -> list[dict]:
    """What the run writes into the account's MODB, as a plain client would write it: a carry-forward and the
    MRC charge documents."""
    docs = [
        {
            "_id": f"raw-{uuid.uuid4().hex}",
            "pvt_type": "ledger",
            "pvt_ledger_type": "credit",
            "amount": 10000000,
            "description": "carry-forward",
            "pvt_account_id": account,
        }
    ]
    for amount, key, description in template:
        docs.append(
            {
                "_id": f"raw-{uuid.uuid4().hex}",
                "pvt_type": "ledger",
                "pvt_ledger_type": "debit",
                "amount": int(amount * 10000),
                "source": {"service": "services", "id": account + key},
                "description": description,
                "pvt_account_id": account,
            }
        )
    return docs


def run(n: int, kind: str = "embedded") -> dict:
    with tempfile.TemporaryDirectory() as var:
        server = make_server(kind, Path(var)).start()
        try:
            couch = Couch(server.url, namespace="bench-")
            config = load_config(env={}, couch_url=server.url, namespace="bench-")
            master, ids = provision_world(couch, config, n)
            config = config.model_copy(update={"master_account": master})
            engine = BillingEngine(couch, config, SimulatedClock(BEFORE))
            engine.tick(DAY_BEFORE)  # the daemon's last day: counts every account, creates December's MODBs ahead

            began = time.perf_counter()
            charged = mrc_charges(engine.evaluate_batches(ids, PERIOD_START))
            seconds = time.perf_counter() - began

            began = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:  # as many requests in flight as the engine's writes
                list(
                    pool.map(
                        lambda c: couch.db(modb(c[0], PERIOD_START.year, PERIOD_START.month)).bulk_docs(raw_docs(*c)),
                        charged,
                    )
                )
            raw_seconds = time.perf_counter() - began
        finally:
            server.stop()
    return {
        "server": kind,
        "accounts": n,
        "engine_concurrency": THREADS,
        "raw_concurrency": THREADS,
        "charges": sum(len(template) for _, template in charged),
        "seconds": round(seconds, 3),
        "accounts_per_s": round(n / seconds, 1),
        "raw_bulk_seconds": round(raw_seconds, 3),
        "ratio": round(seconds / raw_seconds, 2),
        "rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--server", choices=KINDS, default="embedded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.accounts, args.server)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['accounts']} accounts, {result['charges']} MRC charges in {result['seconds']} s "
            f"({result['accounts_per_s']}/s); raw _bulk_docs of the same documents {result['raw_bulk_seconds']} s; "
            f"ratio {result['ratio']}; rss {result['rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
