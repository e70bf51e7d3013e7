"""KAZOO's design documents are never replaced, and a monthly DB the bookkeeper creates has KAZOO's views, on a
real server (the operator's commands run as `bookkeeper` subprocesses).

The views checked are those crossbar (`cb_ledgers`, `cb_transactions`) and jonny5 query, under the names and with
the keys and values of KAZOO's own view files: 4.3 and 4.2 `core/kazoo_modb/priv/couchdb/views/ledgers.json` and
`transactions.json`.
"""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper.clock import SimulatedClock
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import account_db, encode, modb, parse_db_name, to_gregorian
from bookkeeper.ledger import Ledger
from simulator.run import Simulation
from simulator.scenario import parse_scenario

BIN = Path(sys.executable).parent / "bookkeeper"
KAZOO_MODB_VIEWS = {
    "ledgers": [
        "list_by_source",
        "list_by_timestamp",
        "summary_by_account",
        "total_by_source",  # 4.3
        "total_by_service",
        "total_by_service_legacy",
        "listing_by_service",  # 4.2
        "listing_by_service_legacy",
        "list_by_timestamp_legacy",
    ],
    "transactions": [
        "legacy_total",
        "list_by_timestamp",  # 4.3
        "by_timestamp",
        "per_minute_cost",
        "reconcile_by_callid",
        "allotment_consumed",
        "credit_remaining",
    ],  # 4.2
}
# What KAZOO itself might hold under its ids: other views than ours (the balance view with other source text).
THEIRS = {
    "_design/ledgers": {
        "total_by_source": {
            "map": "function(d){if(d.pvt_type==='ledger'&&!d.pvt_deleted)"
            "emit([d.source.service,d.pvt_created],"
            "(d.pvt_ledger_type==='debit'?-1:1)*(d.amount||0));}",
            "reduce": "_sum",
        },
        "kazoo_only": {"map": "function(d){emit(d._id,null);}"},
    },
    "_design/transactions": {
        "legacy_total": {"map": "function(d){if(d.pvt_type==='credit')emit(null,d.pvt_amount);}", "reduce": "_sum"}
    },
    "_design/services": {
        "object_plans": {"map": "function(d){if(d.service&&d.service.plans)emit(d.pvt_type,d.service.plans);}"},
        "devices": {"map": "function(d){if(d.pvt_type==='device')emit(d.device_type,1);}", "reduce": "_sum"},
    },
}


def scenario():
    return parse_scenario(
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-03-02T00:00:00Z",
            "resellers": {
                "master": {
                    "settings": {},
                    "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}},
                }
            },
            "accounts": {
                label: {"name": name, "plans": ["basic"], "balance": 100, "docs": [{"pvt_type": "device"}]}
                for label, name in (("acme", "Acme Corp"), ("fresh", "Fresh Ltd"))
            },
        },
        "test",
    )


def put_theirs(db, ddoc_id):
    """KAZOO's design document under its id, replacing whatever is there (as KAZOO's view refresh would)."""
    current = db.get_or_none(ddoc_id)
    doc = {
        "_id": ddoc_id,
        "language": "javascript",
        "views": THEIRS[ddoc_id],
        **({"_rev": current["_rev"]} if current else {}),
    }
    db.put(doc)
    return doc["_rev"]


def built(server) -> tuple[Simulation, Couch, dict]:
    """The scenario's accounts in a namespace of their own; (simulation, client, environment of the CLI)."""
    namespace = f"kz{uuid.uuid4().hex[:8]}-"
    couch = Couch(server.url, namespace=namespace)
    sim = Simulation(scenario(), couch, load_config(env={}, couch_url=server.url))
    sim.build()
    env = {
        **os.environ,
        "BOOKKEEPER_COUCH_URL": server.url,
        "BOOKKEEPER_NAMESPACE": namespace,
        "BOOKKEEPER_MASTER_ACCOUNT": sim.ids["master"],
    }  # `demo load` brings a master of its own
    return sim, couch, env


@pytest.mark.slow
def test_kazoo_design_docs_keep_their_rev_through_every_command(server):
    sim, couch, env = built(server)
    acme = sim.ids["acme"]
    march, april = couch.db(modb(acme, 2026, 3)), couch.db(modb(acme, 2026, 4)).ensure()
    placed = {(account_db(acme), "_design/services"): put_theirs(couch.db(account_db(acme)), "_design/services")}
    for db in (march, april):
        for ddoc_id in ("_design/ledgers", "_design/transactions"):
            placed[(db.name, ddoc_id)] = put_theirs(db, ddoc_id)

    def cli(*args):
        run = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=180, env=env)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout) if "--json" in args else run.stdout

    cli("demo", "load", "--json")
    cli(
        "ledger",
        "credit",
        acme,
        "25.00",
        "--reason",
        "wire_transfer",
        "--description",
        "wire",
        "--at",
        "2026-03-10T09:00:00Z",
        "--json",
    )
    cli("billing", "run", "--at", "2026-03-01T00:00:00Z", "--account", acme, "--json")
    cli("billing", "run", "--at", "2026-04-01T00:00:00Z", "--account", acme, "--json")
    cli(
        "ledger",
        "credit",
        acme,
        "5.00",
        "--reason",
        "manual_addition",
        "--description",
        "late",
        "--at",
        "2026-03-31T23:00:00Z",
        "--json",
    )  # late: April's carry-forward is restated
    cli("views", "install", "--all-accounts", "--json")
    cli("ledger", "rollover", "--month", "2026-04", "--json")
    for (db_name, ddoc_id), rev in placed.items():
        doc = couch.db(db_name).get(ddoc_id)
        assert doc["_rev"] == rev and doc["views"] == THEIRS[ddoc_id], f"{db_name}/{ddoc_id} was changed"
    # ours are beside them; KAZOO's balance view (theirs, here) counts our documents as ours does
    assert april.get_or_none("_design/bookkeeper_ledger") is not None
    assert couch.db(account_db(acme)).get_or_none("_design/bookkeeper_services") is not None
    # April: 100 + 25 + 5 (March credits) - 10 March MRC - 10 April MRC = 110.00
    rows = april.view("ledgers", "total_by_source", reduce=True)["rows"]
    assert rows[0]["value"] == 1100000
    assert (
        json.loads(
            subprocess.run(
                [str(BIN), "ledger", "verify", acme, "--json"], capture_output=True, text=True, timeout=120, env=env
            ).stdout
        )["problems"]
        == []
    )
    sim.remove()


@pytest.mark.slow
def test_a_monthly_db_we_create_answers_kazoos_views_on_our_documents(server):
    sim, couch, env = built(server)
    fresh = sim.ids["fresh"]
    run = subprocess.run(
        [str(BIN), "billing", "run", "--at", "2026-03-01T00:00:00Z", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    march = couch.db(modb(fresh, 2026, 3))
    for ddoc, views in KAZOO_MODB_VIEWS.items():
        assert sorted(march.get(f"_design/{ddoc}")["views"]) == sorted(views)
        for view in views:
            march.view(ddoc, view, limit=1)  # every one answers (no map error on our documents)
    start = to_gregorian(datetime(2026, 3, 1, tzinfo=UTC))

    # 4.3 crossbar ledgers summary: one row per account and period, the account's name, the signed total
    [summary] = march.view("ledgers", "summary_by_account", group_level=2)["rows"]
    assert summary["key"] == [fresh, start]
    value = summary["value"]
    # 100.00 opening credit - 10.00 MRC = 90.00
    assert value["account_name"] == "Fresh Ltd" and value["total"] == 900000
    assert value["ledgers"]["services"]["amount"] == -100000
    # 4.3 balance and listings by source
    totals = {r["key"][0]: r["value"] for r in march.view("ledgers", "total_by_source", group_level=1)["rows"]}
    assert totals["services"] == -100000 and sum(totals.values()) == 900000
    listed = march.view("ledgers", "list_by_source", startkey=["services"], endkey=["services", {}])["rows"]
    assert [r["value"]["amount"] for r in listed] == [-100000]
    mrc = march.get(listed[0]["id"])  # as kz_ledger:save writes it: the balance before it, the encoded MODB name
    assert mrc["audit"] == {"available_units": 1000000} and mrc["pvt_account_db"] == encode(march.name)
    assert all(r["value"]["executor"] and r["value"]["metadata"] is not None for r in listed)
    by_time = march.view("ledgers", "list_by_timestamp", reduce=True)["rows"][0]["value"]
    assert by_time["services"]["amount"] == -100000
    # 4.2 names over 4.3 ledgers: total_by_service counts them; the legacy views count only per-minute 4.2 docs
    by_service = {r["key"]: r["value"] for r in march.view("ledgers", "total_by_service", group=True)["rows"]}
    assert by_service["services"] == -100000
    # 4.3 transactions/legacy_total: 4.2 credits and debits only, none here
    assert march.view("transactions", "legacy_total")["rows"] == []
    assert march.view("transactions", "credit_remaining")["rows"][0]["value"] == 900000
    sim.remove()


def test_42_documents_in_kazoos_42_views(couch):
    """4.2 dialect: our credit/debit documents in `transactions/by_timestamp` and `credit_remaining`, as 4.2's
    wht_util reads them; a per-minute debit (code 1001) in `per_minute_cost` and the legacy ledgers views."""
    account = uuid.uuid4().hex
    couch.db(account_db(account)).create()
    ledger = Ledger(couch, "4.2", clock=SimulatedClock(datetime(2026, 6, 15, tzinfo=UTC)))
    when = datetime(2026, 5, 3, 12, tzinfo=UTC)
    credit = ledger.credit(
        account, Decimal("20.00"), "USD", kind="payment", reason="manual_addition", description="wire", at=when
    )
    db = couch.db(modb(account, 2026, 5))
    call = {
        "_id": "202605-call",
        "pvt_type": "debit",
        "pvt_amount": 1200,
        "pvt_code": 1001,
        "pvt_vsn": 2,
        "pvt_reason": "per_minute_call",
        "call_id": "c1",
        "event": "end",
        "pvt_created": to_gregorian(when),
    }
    db.put(call)
    ids = [r["value"] for r in db.view("transactions", "by_timestamp")["rows"]]
    assert credit.id in ids and "202605-call" in ids and "monthly_rollup" in ids
    assert db.view("transactions", "credit_remaining")["rows"][0]["value"] == 200000 - 1200
    assert db.view("transactions", "per_minute_cost", group=True)["rows"] == [{"key": ["c1", "end"], "value": -1200}]
    assert db.view("transactions", "reconcile_by_callid", group=True)["rows"] == [{"key": "c1", "value": -1200}]
    legacy = db.view("ledgers", "total_by_service_legacy", group=True)["rows"]
    assert legacy == [{"key": "per-minute-voip", "value": -1200}]
    for name in couch.all_dbs():
        parsed = parse_db_name(name)
        if parsed is not None and parsed.account_id == account:
            couch.db(modb(account, parsed.year, parsed.month) if parsed.is_modb else account_db(account)).delete()
