"""KAZOO's own pricing examples, reproduced to the cent by `plans quote` and by what the engine charges.

Each test names the KAZOO file (branch:path in the 2600hz/kazoo repository) whose figures it takes. The documents
are our transcriptions of the figures in those files; the item totals follow KAZOO 4.3's formula
(`core/kazoo_services/src/kz_services_item.erl`: billable × rate − single − cumulative quantity × rate, not
capped).
"""

import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.jsontext import dumps
from simulator.run import Simulation
from simulator.scenario import parse_scenario

BIN = Path(sys.executable).parent / "bookkeeper"
D = Decimal

# 4.2:core/kazoo_services/test/example_service_plan_1.json, with the override of
# 4.2:core/kazoo_services/test/example_account_services.json applied (phone_numbers.did_us cumulative rate 0.5 -> 5;
# kz_services_test asserts "Verify cumulative discount rate was overridden" = 5.0).
TIERS = {"100": D("149.95"), "20": D("24.95"), "5": 0, "50": D("49.95")}
EXAMPLE_PLAN_1 = {
    "_id": "968dc36503bcb05f798d9530016f311f",
    "name": "Direct Web Signups, No Support",
    "pvt_type": "service_plan",
    "plan": {
        "devices": {"_all": {"as": "sip_devices", "cascade": True, "name": "SIP Device", "rates": TIERS}},
        "limits": {
            "inbound_trunks": {"name": "Inbound Trunk", "rate": D("19.99")},
            "twoway_trunks": {"name": "Two-Way Trunk", "rate": D("29.99")},
        },
        "number_services": {
            "cnam": {"activation_charge": 2, "name": "CNAM Update"},
            "e911": {"discounts": {"single": {"rate": 5}}, "name": "E911 Service", "rate": 5},
            "port": {"activation_charge": 5, "name": "Port Request"},
        },
        "phone_numbers": {
            "did_us": {
                "cascade": False,
                "discounts": {"cumulative": {"maximum": 2, "rate": 5}},
                "name": "US DID",
                "rate": 1,
            },
            "tollfree_us": {"cascade": True, "minimum": 10, "name": "US Tollfree", "rate": 5},
        },
        "users": {"_all": {"as": "users", "exceptions": ["admins"], "name": "System User", "rates": TIERS}},
    },
}
# its `quantities` (a 4.2 services doc: flat)
EXAMPLE_QUANTITIES = {
    "devices": {"cellphone": 1, "sip_device": 6},
    "limits": {"inbound_trunks": 1, "twoway_trunks": 2},
    "number_features": {"cnam": 1, "dash_e911": 3},
    "phone_numbers": {"did_us": 9, "tollfree_us": 1},
}


def quote(tmp_path, plan: dict, quantities: dict, cascade: dict | None = None, current: dict | None = None) -> dict:
    files = {}
    for name, doc in (("plan", plan), ("quantities", quantities), ("cascade", cascade), ("current", current)):
        if doc is not None:
            files[name] = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.json"
            files[name].write_text(dumps(doc))
    args = [str(BIN), "plans", "quote", "--json"]
    args += [a for name, path in files.items() for a in (f"--{name}", str(path))]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout, parse_float=Decimal)


def lines(invoice: dict) -> dict:
    return {(i["category"], i["item"]): i for i in invoice["items"]}


@pytest.mark.slow
def test_kz_services_test_fixture_with_the_overridden_discount_gives_a_negative_did_line(tmp_path):
    """4.2:core/kazoo_services/test/kz_services_test.erl with its fixtures example_service_plan_1.json and
    example_account_services.json: did_us quantity 9 (the test's "Verify base quantity"), the phone_numbers
    category 10 ("Verify base category quantities"), the cumulative rate overridden to 5.0; priced with 4.3's item
    formula the did_us line is -1.00 and the recurring total 303.62."""
    invoice = quote(tmp_path, EXAMPLE_PLAN_1, EXAMPLE_QUANTITIES)
    by = lines(invoice)
    did = by[("phone_numbers", "did_us")]
    # 9 × 1.00 = 9.00, less the cumulative discount over min(2, 9) = 2 numbers at 5.00 = 10.00: -1.00
    assert (did["quantity"], did["billable"], did["rate"]) == (9, 9, 1)
    assert did["discounts"] == {"total": 10, "cumulative": {"rate": 5, "quantity": 2}}
    assert did["total"] == D("-1")
    # tollfree_us: quantity 1, minimum 10: 10 × 5.00 = 50.00; the category holds 9 + 1 = 10 numbers
    tollfree = by[("phone_numbers", "tollfree_us")]
    assert (tollfree["quantity"], tollfree["billable"], tollfree["total"]) == (1, 10, 50)
    assert did["quantity"] + tollfree["quantity"] == 10
    # devices _all (as sip_devices): cellphone 1 + sip_device 6 = 7, tier "20": 7 × 24.95 = 174.65
    devices = by[("devices", "sip_devices")]
    assert (devices["quantity"], devices["rate"], devices["total"]) == (7, D("24.95"), D("174.65"))
    assert by[("limits", "inbound_trunks")]["total"] == D("19.99")  # 1 × 19.99
    assert by[("limits", "twoway_trunks")]["total"] == D("59.98")  # 2 × 29.99
    assert by[("number_services", "e911")]["total"] == 0  # number_features is not number_services
    # 174.65 + 19.99 + 59.98 - 1.00 + 50.00 = 303.62
    assert invoice["summary"]["recurring"] == D("303.62")

    # the fixture plan as stored (cumulative rate 0.5): 9 - 2 × 0.5 = 8.00, recurring 312.62
    plain = json.loads(dumps(EXAMPLE_PLAN_1), parse_float=Decimal)
    plain["plan"]["phone_numbers"]["did_us"]["discounts"]["cumulative"]["rate"] = D("0.5")
    again = quote(tmp_path, plain, EXAMPLE_QUANTITIES)
    assert lines(again)[("phone_numbers", "did_us")]["total"] == 8 and again["summary"]["recurring"] == D("312.62")


def test_the_mrc_charged_nets_to_kazoos_recurring_total_with_the_negative_line_as_a_credit(server):
    """The same fixture (4.2:core/kazoo_services/test/example_service_plan_1.json, overridden as in
    example_account_services.json) billed by the engine: the quantities counted from documents (7 devices, the
    limits doc, 9 US DIDs and 1 toll-free number), the MRC written as debits for the positive lines and a credit of
    1.00 for the did_us line, netting to KAZOO's recurring 303.62."""
    plan = {k: v for k, v in EXAMPLE_PLAN_1.items() if k != "_id"}
    docs = (
        [{"pvt_type": "device", "device_type": "cellphone"}]
        + [{"pvt_type": "device", "device_type": "sip_device"} for _ in range(6)]
        + [{"_id": f"+1415555010{n}", "pvt_type": "number"} for n in range(9)]
        + [{"_id": "+18005550100", "pvt_type": "number"}]
    )
    couch = Couch(server.url, namespace=f"kx{uuid.uuid4().hex[:8]}-", retries=3)
    sim = Simulation(
        parse_scenario(
            {
                "start": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
                "resellers": {"master": {"settings": {}, "plans": {"example": plan}}},
                "accounts": {
                    "acme": {
                        "plans": ["example"],
                        "balance": 1000,
                        "docs": docs,
                        "limits": {"inbound_trunks": 1, "twoway_trunks": 2},
                    }
                },
            },
            "test",
        ),
        couch,
        load_config(env={}, couch_url=server.url),
    )
    result = sim.run(keep=True)
    mrc = {(r["category"], r["item"], r["type"]): r["amount"] for r in result["transactions"] if r["kind"] == "mrc"}
    assert mrc == {
        ("devices", "sip_devices", "debit"): D("174.65"),
        ("limits", "inbound_trunks", "debit"): D("19.99"),
        ("limits", "twoway_trunks", "debit"): D("59.98"),
        ("phone_numbers", "tollfree_us", "debit"): D("50.00"),
        ("phone_numbers", "did_us", "credit"): D("1.00"),
    }
    assert sum(v if t == "debit" else -v for (_, _, t), v in mrc.items()) == D("303.62")
    assert result["balances"]["acme"] == D("696.38")  # 1,000.00 - 303.62
    sim.remove()


# 4.3:applications/crossbar/doc/service_plans.md, "Retrieving one of your service plans" (plan_macpie)
PLAN_MACPIE = {
    "_id": "plan_macpie",
    "name": "Macpies plan",
    "pvt_type": "service_plan",
    "plan": {
        "devices": {
            "_all": {
                "activation_charge": 3,
                "as": "sip_devices",
                "discounts": {"cumulative": {"maximum": 20, "rate": 5}},
                "exceptions": ["cellphone", "landline"],
                "name": "SIP Device",
                "rate": 5,
            }
        },
        "limits": {
            "inbound_trunks": {"name": "Inbound Trunk", "rate": D("6.99")},
            "twoway_trunks": {"name": "Two-Way Trunk", "rate": D("29.99")},
        },
        "number_services": {
            "e911": {"cascade": True, "discounts": {"single": {"rate": 5}}, "name": "E911 Service", "rate": 2},
            "inbound_cnam": {"activation_charge": 1, "name": "Inbound CNAM Update", "rate": 2},
            "outbound_cnam": {"activation_charge": 5, "name": "Outbound CNAM Update", "rate": 1},
            "port": {"activation_charge": 10, "name": "Port Request"},
        },
        "phone_numbers": {
            "did_us": {"activation_charge": 3, "cascade": True, "name": "US DID", "rate": 2},
            "tollfree_us": {"cascade": True, "name": "US Tollfree", "rate": D("4.99")},
        },
        "users": {
            "_all": {"activation_charge": 3, "as": "user", "cascade": True, "exceptions": [], "name": "User", "rate": 5}
        },
    },
}
# the same file, "Retrieving your current plan": account_quantities
MACPIE_QUANTITIES = {
    "number_services": {},
    "phone_numbers": {"did_us": 4},
    "devices": {"sip_device": 1, "softphone": 2},
    "limits": {"twoway_trunks": 10, "inbound_trunks": 10},
    "users": {"admin": 1, "user": 1},
    "ips": {"dedicated": 0},
}


@pytest.mark.slow
def test_crossbar_current_plan_example_items_and_activation_lines_named_by_plan_key(tmp_path):
    """4.3:applications/crossbar/doc/service_plans.md: the items of "Retrieving your current plan" (sip_devices
    quantity 3 at 5.0 with a cumulative discount of 3 at 5.0; did_us 4 at 2.0; user 2 at 5.0; twoway_trunks 10 at
    29.99; inbound_trunks 10 at 6.99; e911 0 at 2.0). For a new account every unit is activated, and the activation
    lines are named by the plan key (`_all`), as kz_services_activation_item:create/1 names them."""
    invoice = quote(tmp_path, PLAN_MACPIE, MACPIE_QUANTITIES, current={})
    by = lines(invoice)
    sip = by[("devices", "sip_devices")]
    assert (sip["quantity"], sip["rate"], sip["discounts"]["cumulative"]) == (3, 5, {"rate": 5, "quantity": 3})
    assert sip["total"] == 0  # 3 × 5.00 - 3 × 5.00
    assert (by[("phone_numbers", "did_us")]["quantity"], by[("phone_numbers", "did_us")]["total"]) == (4, 8)
    assert (by[("users", "user")]["quantity"], by[("users", "user")]["total"]) == (2, 10)
    assert by[("limits", "twoway_trunks")]["total"] == D("299.90")  # 10 × 29.99
    assert by[("limits", "inbound_trunks")]["total"] == D("69.90")  # 10 × 6.99
    assert by[("number_services", "e911")]["total"] == 0  # quantity 0: no discount applies
    assert invoice["summary"]["recurring"] == D("387.80")  # 0 + 8 + 10 + 299.90 + 69.90
    activations = {
        (a["category"], a["item"]): (a["billable"], a["rate"], a["total"]) for a in invoice["activation_charges"]
    }
    assert activations == {
        ("devices", "_all"): (3, 3, 9),
        ("phone_numbers", "did_us"): (4, 3, 12),
        ("users", "_all"): (2, 3, 6),
    }
    assert invoice["summary"]["today"] == 27  # 9 + 12 + 6


@pytest.mark.slow
def test_kazoo_services_readme_summary_invoices(tmp_path):
    """4.3:core/kazoo_services/doc/README.md, "Summary": the first invoice (sip_device 1 at 1 = 1; `_all` with a
    cumulative discount of maximum 1 and no rate: rate 0, total 0; recurring 1) and the second invoice's did_us
    line (account 4 + cascade 10 = 14 at 1 = 14) and rates. Its users line (8 at 18.99 = 151.92, recurring 165.92)
    does not follow from the README's own quantities (account 1 admin + 4 users, cascade 3 + 3 = 11 users): with
    8 users it is reproduced."""
    simple = {
        "_id": "plan_simple",
        "plan": {"devices": {"sip_device": {"rate": 1}, "_all": {"discounts": {"cumulative": {"maximum": 1}}}}},
    }
    first = quote(tmp_path, simple, {"devices": {"sip_device": 1}})
    assert [(i["item"], i["quantity"], i["billable"], i["rate"], i["total"]) for i in first["items"]] == [
        ("sip_device", 1, 1, 1, 1),
        ("_all", 1, 1, 0, 0),
    ]
    assert first["summary"] == {"today": 0, "recurring": 1}
    complex_ = {
        "_id": "plan_complex",
        "plan": {
            "phone_numbers": {
                "did_us": {"name": "US DID Phone Number", "rate": 1, "cascade": True},
                "tollfree_us": {"name": "US Tollfree Phone Number", "rate": D("4.99"), "cascade": True},
                "international": {"name": "International Phone Number", "rate": D("4.99"), "cascade": True},
            },
            "number_services": {"e911": {"name": "E911 Service", "rate": 2, "cascade": True}},
            "limits": {
                "twoway_trunks": {"name": "Two-Way Trunk", "rate": D("24.99"), "cascade": False},
                "inbound_trunks": {"name": "Inbound Trunk", "rate": D("6.99"), "cascade": False},
                "outbound_trunks": {"name": "Outbound Trunk", "rate": D("21.99"), "cascade": False},
            },
            "users": {"_all": {"as": "user", "name": "User", "rate": D("18.99"), "cascade": True}},
        },
    }
    second = quote(
        tmp_path,
        complex_,
        {"phone_numbers": {"did_us": 4}, "users": {"user": 8}},
        cascade={"phone_numbers": {"did_us": 10}},
    )
    by = lines(second)
    assert (by[("phone_numbers", "did_us")]["quantity"], by[("phone_numbers", "did_us")]["total"]) == (14, 14)
    assert by[("users", "user")]["total"] == D("151.92")  # 8 × 18.99
    assert second["summary"]["recurring"] == D("165.92")  # 14 + 151.92
    assert [by[k]["rate"] for k in (("phone_numbers", "tollfree_us"), ("limits", "outbound_trunks"))] == [
        D("4.99"),
        D("21.99"),
    ]
