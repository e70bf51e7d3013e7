"""Documents KAZOO reads, in the shape KAZOO itself writes them (run through the simulator on a real server)."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import modb
from bookkeeper.ledger.documents import INFO, LEGACY_INFO
from simulator.run import Simulation
from simulator.scenario import parse_scenario

BIN = Path(sys.executable).parent / "bookkeeper"
DEVICE = {"pvt_type": "device", "device_type": "sip_device"}


def test_42_activation_debit_has_the_shape_of_kazoos_accept_charges_debit(server):
    """KAZOO 4.2 crossbar_services:create_transactions/4 writes an activation as a debit with an `event` and
    `metadata.{auth_account_id, category, item}`, no reason or code (kz_transaction:prepare_transaction/1 would ask
    a feature_activation debit for a feature and a number). Ours is that debit, named by the plan key (`_all`),
    and our explanation is not in `bookkeeper_info` (Braintree's field in 4.2)."""
    couch = Couch(server.url, namespace=f"ka{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(
        parse_scenario(
            {
                "start": "2026-03-01T00:00:00Z",
                "until": "2026-03-03T00:00:00Z",
                "dialect": "4.2",
                "resellers": {
                    "master": {
                        "settings": {},
                        "plans": {
                            "p": {
                                "name": "P",
                                "plan": {
                                    "devices": {"_all": {"as": "sip_devices", "rate": 10, "activation_charge": 3}}
                                },
                            }
                        },
                    }
                },
                "accounts": {"acme": {"plans": ["p"], "balance": 100, "docs": [DEVICE]}},
                "events": [{"at": "2026-03-02T10:00:00Z", "account": "acme", "create": DEVICE}],
            },
            "test",
        ),
        couch,
        load_config(env={}, couch_url=server.url),
    )
    result = sim.run(keep=True)
    acme = sim.ids["acme"]
    [activation] = [
        d
        for d in (r["doc"] for r in couch.db(modb(acme, 2026, 3)).all_docs(include_docs=True))
        if d.get(INFO, {}).get("kind") == "activation"
    ]
    assert activation["pvt_type"] == "debit" and activation["pvt_amount"] == 30000  # 1 device × 3.00
    assert "pvt_reason" not in activation and "pvt_code" not in activation and LEGACY_INFO not in activation
    assert activation["event"] == "Activation charges for _all"
    assert activation["metadata"] == {"auth_account_id": acme, "category": "devices", "item": "_all"}
    assert activation["pvt_vsn"] == 2
    # 100 - 10.00 MRC - 10.00 × 30/31 for the second device (9.68) - 3.00 = 77.32
    assert result["balances"]["acme"] == Decimal("77.32")
    services = couch.db("services").get(acme)  # a 4.2 services doc: vsn "1", flat quantities, our reseller
    assert (services["pvt_vsn"], services["pvt_reseller_id"], services["pvt_dirty"]) == ("1", sim.ids["master"], False)
    assert services["quantities"]["devices"] == {"sip_device": 2}
    sim.remove()


@pytest.mark.slow
def test_manual_quantities_on_the_services_doc_win_over_counted_ones(server):
    """4.3 `quantities.manual` (crossbar `/services/manual`, kz_services_quantities:item/3): an item there replaces
    the counted one, and an item counted by nobody is billed from it (the example of
    4.3:core/kazoo_services/doc/README.md, "Manual Quantities": spacely_space.sprockets)."""
    couch = Couch(server.url, namespace=f"km{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(
        parse_scenario(
            {
                "start": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
                "resellers": {
                    "master": {
                        "settings": {},
                        "plans": {
                            "p": {
                                "name": "P",
                                "plan": {
                                    "devices": {"sip_device": {"rate": 10}},
                                    "spacely_space": {"sprockets": {"rate": 3}},
                                },
                            }
                        },
                    }
                },
                "accounts": {"acme": {"plans": ["p"], "balance": 100, "docs": [DEVICE, DEVICE]}},
            },
            "test",
        ),
        couch,
        load_config(env={}, couch_url=server.url),
    )
    sim.build()
    acme = sim.ids["acme"]
    services = couch.db("services")
    doc = services.get(acme)
    doc["quantities"] = {
        **doc.get("quantities", {}),
        "manual": {"devices": {"sip_device": 5}, "spacely_space": {"sprockets": 1}},
    }
    services.put(doc)
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": couch.namespace}
    run = subprocess.run(
        [str(BIN), "billing", "run", "--at", "2026-03-01T00:00:00Z", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    [billed] = [a for a in json.loads(run.stdout, parse_float=Decimal)["accounts"] if a["account"] == acme]
    mrc = {(c["category"], c["item"]): c["amount"] for c in billed["charges"] if c["kind"] == "mrc"}
    # 5 (manual, not the 2 counted) × 10.00 = 50.00; 1 sprocket × 3.00 = 3.00
    assert mrc == {("devices", "sip_device"): Decimal("50.00"), ("spacely_space", "sprockets"): Decimal("3.00")}
    assert sim.engine.ledger.balance(acme, datetime(2026, 3, 1, 1, tzinfo=UTC)) == Decimal("47.00")
    stored = couch.db("services").get(acme)
    assert stored["quantities"]["account"]["devices"] == {"sip_device": 2}
    assert stored["quantities"]["manual"]["devices"] == {"sip_device": 5}
    assert (stored["pvt_vsn"], stored["pvt_reseller_id"]) == (2, sim.ids["master"])
    sim.remove()


def test_object_plans_and_the_services_level_bookkeeper_take_part_in_merging(server):
    """4.3 kz_services_plans:fetch/2: after the plans on the services doc come the plans that documents of the
    account name for themselves (`service.plans`, view services/object_plans), each with its own overrides; the
    services doc's `bookkeeper` is every plan's default bookkeeper (prepare_plan/3)."""
    soft = {
        "pvt_type": "device",
        "device_type": "softphone",
        "service": {"plans": {"soft": {"overrides": {"plan": {"devices": {"softphone": {"rate": 4}}}}}}},
    }
    couch = Couch(server.url, namespace=f"ko{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(
        parse_scenario(
            {
                "start": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
                "resellers": {
                    "master": {
                        "settings": {},
                        "plans": {
                            "p": {"name": "P", "plan": {"devices": {"sip_device": {"rate": 10}}}},
                            "soft": {"name": "Soft", "plan": {"devices": {"softphone": {"rate": 6}}}},
                        },
                    }
                },
                "accounts": {"acme": {"plans": ["p"], "balance": 100, "docs": [DEVICE, soft]}},
            },
            "test",
        ),
        couch,
        load_config(env={}, couch_url=server.url),
    )
    result = sim.run(keep=True)
    mrc = {(r["category"], r["item"]): r["amount"] for r in result["transactions"] if r["kind"] == "mrc"}
    # the assigned plan: 1 sip_device × 10.00; the softphone's own plan, overridden to 4.00: 1 × 4.00
    assert mrc == {("devices", "sip_device"): Decimal("10.00"), ("devices", "softphone"): Decimal("4.00")}
    acme, master = sim.ids["acme"], sim.ids["master"]
    services = couch.db("services")
    services.put({**services.get(acme), "bookkeeper": {"type": "couch_bookkeeper", "vendor_id": master}})
    directory = sim.engine.directory
    [account] = directory.accounts([acme])
    [merged] = directory.merged_plans(account, account.reseller)
    assert merged.bookkeeper == {"id": "default_bookkeeper", "type": "couch_bookkeeper", "vendor_id": master}
    assert merged.plan_ids == ("p", "soft")
    sim.remove()


@pytest.mark.slow
def test_42_counts_ledgers_ui_apps_and_ratedeck_as_42_does(server):
    """KAZOO 4.2's services modules beside the documents (core/kazoo_services/src/services/kz_service_ledgers.erl,
    kz_service_ui_apps.erl, kz_service_ratedeck.erl): ledgers.<service> = minus this month's negative total of
    ledgers/total_by_service_legacy (units), ui_apps.<name> = 1 per app in use on the account document,
    ratedeck.<id> = 1 for the merged plan's single ratedeck."""
    couch = Couch(server.url, namespace=f"k4{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(
        parse_scenario(
            {
                "start": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
                "dialect": "4.2",
                "resellers": {
                    "master": {
                        "settings": {},
                        "plans": {
                            "p": {
                                "name": "P",
                                "plan": {"ui_apps": {"voip": {"rate": 2}}, "ratedeck": {"bulk": {"rate": 1}}},
                            }
                        },
                    }
                },
                "accounts": {"acme": {"plans": ["p"], "balance": 100}},
            },
            "test",
        ),
        couch,
        load_config(env={}, couch_url=server.url),
    )
    sim.build()
    acme = sim.ids["acme"]
    accounts = couch.db("accounts")
    accounts.put(
        {
            **accounts.get(acme),
            "ui_apps": {
                "a1": {"name": "voip", "allowed_users": "all"},
                "a2": {"name": "pbxs", "allowed_users": "specific", "users": []},  # nobody: not in use
                "a3": {"name": "accounts", "allowed_users": "specific", "users": ["u1"]},
            },
        }
    )
    march = couch.db(modb(acme, 2026, 3))
    march.put(
        {
            "_id": "202603-call1",
            "pvt_type": "debit",
            "pvt_amount": 12000,
            "pvt_code": 1001,
            "pvt_vsn": 2,
            "pvt_reason": "per_minute_call",
            "call_id": "c1",
            "pvt_account_id": acme,
            "pvt_created": 63940000000,
        }
    )
    env = {
        **os.environ,
        "BOOKKEEPER_COUCH_URL": server.url,
        "BOOKKEEPER_NAMESPACE": couch.namespace,
        "BOOKKEEPER_DIALECT": "4.2",
    }
    run = subprocess.run(
        [str(BIN), "billing", "run", "--at", "2026-03-01T00:00:00Z", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    quantities = couch.db("services").get(acme)["quantities"]
    assert quantities["ledgers"] == {"per-minute-voip": 12000}
    assert quantities["ui_apps"] == {"voip": 1, "accounts": 1}
    assert quantities["ratedeck"] == {"bulk": 1}
    [billed] = [a for a in json.loads(run.stdout, parse_float=Decimal)["accounts"] if a["account"] == acme]
    mrc = {(c["category"], c["item"]): c["amount"] for c in billed["charges"] if c["kind"] == "mrc"}
    assert mrc == {("ui_apps", "voip"): Decimal("2.00"), ("ratedeck", "bulk"): Decimal("1.00")}
    sim.remove()
