"""Benchmark: ledger balance reads and charge writes (issue 4), on `--server` (issue 24).

Starts its own server on free ports (`--server`: the in-memory embedded PouchDB Server, a CouchDB node or a
three-node CouchDB cluster), then:

* balance: for each size N (default 1,000 and 100,000), one account's current month gets N entries (charges
  written with `Ledger.write_charges`, 1,000 per batch); the first read (no checkpoint yet: a full recount) is
  reported apart; then `--reads` times: one new entry is written (not timed) and `Ledger.balance` is timed.
* charges: 10,000 charges for 100 accounts (one `write_charges` batch of 100 per account, the accounts' MODBs
  already opened), beside raw `_bulk_docs` of documents built the same way (other keys) into the same DBs in the
  same batches, in the same run, interleaved account by account. Only the requests of the raw side are timed
  (its documents are built beforehand); the ledger side is timed whole (validation, building, checks, write).

The HTTP requests of each balance read (`requests_per_read`) and of each ledger batch (`requests_per_batch`) are
counted too.

`--forgetful`: the ledger remembers nothing about monthly DBs between calls (a `PreparedMonths` that keeps
nothing), so every call sets its month up again: what the ledger's memory of prepared months saves.

    .venv/bin/python bench/ledger.py --json
    .venv/bin/python bench/ledger.py --server couchdb --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bookkeeper.charging.model import Charge
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db, modb
from bookkeeper.ledger import Ledger
from bookkeeper.ledger.documents import Explained, build, keyed_id, month_of
from bookkeeper.ledger.prepared import PreparedMonths
from bookkeeper.servers import KINDS, make_server, stop_servers_on_sigterm

USD = "USD"


class Forgetful(PreparedMonths):
    """Knows no month: each call finds, checks and sets up its monthly DB again (no carry-forward owed)."""

    def see(self, name: str) -> None:
        pass

    def design(self, name: str, created: bool) -> None:
        pass

    def make_ready(self, name: str) -> None:
        pass

    def owe(self, name: str, carry: dict) -> None:
        raise AssertionError("a forgetful ledger never knows a month is fresh, so it owes nothing")


class Requests:
    """Counts the HTTP requests the client sends (a response hook on its session)."""

    def __init__(self, couch: Couch):
        self.count = 0
        couch.session.hooks["response"].append(self._seen)

    def _seen(self, response, *args, **kwargs):
        self.count += 1


def charges_for(account: str, start: datetime, end: datetime, n: int, tag: str) -> list[Charge]:
    return [
        Charge(
            key=f"{account}/{tag}/{i}",
            account_id=account,
            type="debit",
            kind="daily",
            category="devices",
            item="sip_device",
            quantity=1,
            rate=Decimal("3.10"),
            amount=Decimal("0.10"),
            currency=USD,
            factor="1/31",
            period_start=start,
            period_end=end,
            day=1,
            description="bench daily fee",
        )
        for i in range(n)
    ]


def new_account(couch: Couch) -> str:
    account = uuid.uuid4().hex
    couch.db(account_db(account)).create()
    return account


def bench_balance(couch: Couch, ledger: Ledger, size: int, reads: int, now: datetime, start, end) -> dict:
    account = new_account(couch)
    t0 = time.perf_counter()
    for offset in range(0, size, 1000):
        ledger.write_charges(
            account, charges_for(account, start, end, min(1000, size - offset), f"b{offset}"), USD, now
        )
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ledger.balance(account)
    first_ms = (time.perf_counter() - t0) * 1000
    timings, requests, counter = [], 0, Requests(couch)
    for _ in range(reads):
        ledger.credit(
            account, Decimal("0.01"), USD, kind="manual", reason="manual_addition", description="tick", at=now
        )
        before = counter.count
        t0 = time.perf_counter()
        balance = ledger.balance(account)
        timings.append((time.perf_counter() - t0) * 1000)
        requests += counter.count - before
    expected = Decimal("-0.10") * size + Decimal("0.01") * reads
    assert balance == expected, (balance, expected)
    return {
        "p50": round(statistics.median(timings), 2),
        "max": round(max(timings), 2),
        "first_ms": round(first_ms, 1),
        "load_entries_per_s": round(size / load_s),
        "requests_per_read": round(requests / reads, 2),
    }


def bench_charges(couch: Couch, ledger: Ledger, accounts: int, per_account: int, now, start, end) -> dict:
    ids = [new_account(couch) for _ in range(accounts)]
    year, month = month_of(now)
    for account in ids:
        ledger.ensure_rollover(account, year, month)
    ours_s = raw_s = 0.0
    requests, counter = 0, Requests(couch)
    for account in ids:  # interleaved, so neither side gets a warmer server
        batch = charges_for(account, start, end, per_account, "c")
        before = counter.count
        t0 = time.perf_counter()
        results = ledger.write_charges(account, batch, USD, now)
        ours_s += time.perf_counter() - t0
        requests += counter.count - before
        assert all(r.written for r in results)
        docs = []
        for c in charges_for(account, start, end, per_account, "raw"):
            what = Explained(
                c.kind,
                "recurring",
                c.description,
                USD,
                key=c.key,
                category=c.category,
                item=c.item,
                quantity=c.quantity,
                rate=c.rate,
                factor=c.factor,
                day=c.day,
                period_start=c.period_start,
                period_end=c.period_end,
                rule_version=c.rule_version,
            )
            docs.append(
                build(ledger.dialect, keyed_id(c.key, year, month), account, year, month, c.type, 1000, now, what)
            )
        db = couch.db(modb(account, year, month))
        t0 = time.perf_counter()
        rows = db.bulk_docs(docs)
        raw_s += time.perf_counter() - t0
        assert all(r.get("ok") for r in rows.values())
    total = accounts * per_account
    return {
        "charges_per_s": round(total / ours_s),
        "raw_bulk_per_s": round(total / raw_s),
        "ratio": round(raw_s / ours_s, 3),
        "requests_per_batch": round(requests / accounts, 2),
    }


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="Entries in the month for the balance reads.")
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--per-account", type=int, default=100)
    parser.add_argument("--dialect", choices=["4.3", "4.2"], default="4.3")
    parser.add_argument("--server", choices=KINDS, default="embedded")
    parser.add_argument("--forgetful", action="store_true", help="The ledger remembers no monthly DB between calls.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server(args.server, Path(tmp)).start()
        try:
            couch = Couch(server.url, timeout=300)
            ledger = Ledger(couch, args.dialect)
            if args.forgetful:
                ledger._prepared = Forgetful()
            balance = {
                int(n): bench_balance(couch, ledger, int(n), args.reads, now, start, end) for n in args.sizes.split(",")
            }
            charges = bench_charges(couch, ledger, args.accounts, args.per_account, now, start, end)
        finally:
            server.stop()
    out = {
        "balance_ms_p50": {str(n): b["p50"] for n, b in balance.items()},
        "balance_detail": {str(n): b for n, b in balance.items()},
        **charges,
        "dialect": args.dialect,
        "server": args.server,
        "forgetful": args.forgetful,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for n, b in balance.items():
            print(f"balance at {n:>7} entries: p50 {b['p50']} ms (max {b['max']}, first read {b['first_ms']} ms)")
        print(
            f"charges {charges['charges_per_s']}/s, raw _bulk_docs {charges['raw_bulk_per_s']}/s "
            f"({charges['ratio']:.0%} of raw)"
        )


if __name__ == "__main__":
    main()
