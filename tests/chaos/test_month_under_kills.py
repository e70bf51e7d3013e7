"""A month over 200 accounts with device churn, trunk changes and payments, walked by a driver process that is
SIGKILLed at random points (at least 10 times) while its PouchDB Server (on disk) is restarted twice. The ledger it
leaves must equal, document for document, the ledger of an undisturbed walk of the same scenario with the same
account ids on another server; every balance must equal the account's credits minus its charges."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from testserver import start_test_server

from bookkeeper import provision
from bookkeeper.billing import STATE_PREFIX
from bookkeeper.couch import Couch
from bookkeeper.databases import account_databases
from bookkeeper.dbnames import modb
from bookkeeper.ledger import Ledger
from bookkeeper.ledger.documents import info_of, keyed_id

from . import world

DRIVER = Path(__file__).with_name("driver.py")
pytestmark = pytest.mark.long(600)
ACCOUNTS = 200
MIN_KILLS = 12
SERVER_RESTARTS_AT = (4, 8)  # after these many kills the server is restarted under a running driver
DEADLINE = 480.0


def ledger_docs(couch: Couch, ids: list[str]) -> dict[str, dict]:
    """Every money document (and carry-forward) in the accounts' MODBs, without `_rev`, by database and id."""
    _, modbs = account_databases(couch)
    ours = [m for m in modbs if any(m.startswith(f"account/{i[:2]}/{i[2:4]}/{i[4:]}-") for i in ids)]
    out = {}
    for name in ours:
        for row in couch.db(name).all_docs(include_docs=True):
            if not row["id"].startswith("_design/"):
                out[f"{name}/{row['id']}"] = {k: v for k, v in row["doc"].items() if k != "_rev"}
    return out


def run_driver(url: str, namespace: str, scenario: Path, ids: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, str(DRIVER), url, namespace, str(scenario), str(ids)], stdout=out, stderr=subprocess.STDOUT
        )


def _explain(doc):
    """What a differing money document is: enough to find the evaluation that wrote it."""
    if doc is None:
        return None
    info = info_of(doc)
    return {
        "type": doc.get("pvt_ledger_type") or doc.get("pvt_type"),
        "amount": doc.get("amount"),
        "key": info.get("key"),
        "kind": info.get("kind"),
        "created": doc.get("pvt_created"),
    }


def test_a_month_with_kills_and_server_restarts_leaves_the_undisturbed_ledger(tmp_path):
    data = world.scenario(ACCOUNTS)
    server = start_test_server(tmp_path / "disk", persistent=True, restarts=True)
    reference_server = start_test_server(tmp_path / "ref")
    try:
        reference = world.simulation(data, reference_server.url, "ref-")
        ids = {label: provision.new_account_id() for label in reference.scenario.order()}
        reference.ids = dict(ids)
        disturbed = world.simulation(data, server.url, "chaos-", ids=ids)
        with ThreadPoolExecutor(2) as pool:
            for built in [pool.submit(world.build, reference), pool.submit(world.build, disturbed)]:
                built.result()
        scenario_file, ids_file, log = tmp_path / "scenario.json", tmp_path / "ids.json", tmp_path / "driver.log"
        scenario_file.write_text(json.dumps(data))
        ids_file.write_text(json.dumps(ids))

        undisturbed: dict = {}
        walker = threading.Thread(target=lambda: undisturbed.update(walked=world.walk(reference)), daemon=True)
        walker.start()

        rnd = random.Random(20261122)
        kills, restarts, runs, failures = 0, 0, 0, []
        began = time.monotonic()
        while True:
            assert time.monotonic() - began < DEADLINE, f"the disturbed walk did not finish; see {log}"
            runs += 1
            proc = run_driver(server.url, "chaos-", scenario_file, ids_file, log)
            if kills < MIN_KILLS:
                if kills in SERVER_RESTARTS_AT and restarts < SERVER_RESTARTS_AT.index(kills) + 1:
                    time.sleep(rnd.uniform(1.5, 3.0))  # the driver is at work: take its server away under it
                    server.stop()
                    time.sleep(0.5)  # on purpose: the server stays down a moment
                    server.start()
                    restarts += 1
                try:
                    code = proc.wait(timeout=rnd.uniform(1.2, 4.0))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    kills += 1
                    continue
                if code != 0:  # allowed only when its server went away under it
                    failures.append(code)
                    assert restarts and len(failures) <= restarts, f"driver failed with {code}; see {log}"
                    continue
                break
            code = proc.wait(timeout=max(1.0, DEADLINE - (time.monotonic() - began)))
            assert code == 0, f"driver failed with {code}; see {log}"
            break
        assert kills >= 10, f"the walk finished after only {kills} kills; see {log}"
        assert restarts == 2
        walker.join(timeout=max(1.0, DEADLINE - (time.monotonic() - began)))
        assert not walker.is_alive() and undisturbed.get("walked") == len(world.moments(reference))

        couch, ref_couch = Couch(server.url, namespace="chaos-"), Couch(reference_server.url, namespace="ref-")
        account_ids = list(ids.values())
        got, want = ledger_docs(couch, account_ids), ledger_docs(ref_couch, account_ids)
        differing = {k: (got.get(k), want.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)}
        assert not differing, "ledgers differ (disturbed, undisturbed): " + json.dumps(
            {k: [_explain(a), _explain(b)] for k, (a, b) in differing.items()}, default=str
        )
        charges = [d for d in want.values() if d.get("pvt_type") == "ledger" and d.get("pvt_ledger_type") == "debit"]
        kinds = {(d.get("source") or {}).get("service") for d in charges}
        assert len(charges) > ACCOUNTS and len(kinds) >= 1, kinds

        ledger = Ledger(couch, clock=disturbed.clock)
        for label, account_id in ids.items():
            if label == "master":
                continue
            entries = [e for e in ledger.entries(account_id, world.START, world.UNTIL) if e.kind != "rollover"]
            credits = sum((e.amount for e in entries if e.type == "credit"), Decimal(0))
            debits = sum((e.amount for e in entries if e.type == "debit"), Decimal(0))
            assert credits > 0 and debits > 0, label
            assert ledger.balance(account_id, world.UNTIL) == credits - debits, label
        states = couch.db(disturbed.config.bookkeeper_db).get_many([STATE_PREFIX + i for i in account_ids])
        assert len(states) == ACCOUNTS + 1 - (STATE_PREFIX + ids["master"] not in states)
        pending = [
            (s["account_id"], c["key"]) for s in states.values() for c in (s.get("pending") or {}).get("charges", [])
        ]
        # write-ahead charges stay recorded until the next evaluation; every one of them is in the ledger
        assert [k for a, k in pending if f"{modb(a, 2026, 3)}/{keyed_id(k, 2026, 3)}" not in got] == []
        print(
            f"chaos month: {kills} kills, {restarts} server restarts, {runs} driver runs, "
            f"{len(want)} ledger documents equal, {len(pending)} write-ahead charges in the ledger, "
            f"{time.monotonic() - began:.0f}s"
        )
    finally:
        server.stop()
        reference_server.stop()
