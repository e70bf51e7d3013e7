"""`plans validate` checks KAZOO's service plan schema, not only the fields it happens to find (issue 19.10)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main

from .conftest import one_error


def validate(path) -> object:
    return CliRunner().invoke(main, ["plans", "validate", str(path)], env={"BOOKKEEPER_CONFIG": ""})


def test_an_empty_object_and_quantities_are_not_plans(tmp_path):
    cases = {
        "empty.json": ({}, "plan: missing"),
        "quantities.json": (
            {"devices": {"sip_device": 3}, "users": {"user": 1}},
            "plan: missing; this looks like quantities {category: {item: n}}, not a service plan",
        ),
        "nameless.json": ({"plan": {"devices": {"sip_device": {"rate": 1}}}}, "name: missing"),
        "items.json": (
            {"name": "X", "plan": {"devices": {"sip_device": 3}}},
            "plan.devices.sip_device: not an object: 3",
        ),
    }
    for name, (doc, problem) in cases.items():
        (tmp_path / name).write_text(json.dumps(doc))
        one_error(validate(tmp_path / name), f"{tmp_path / name}: {problem}")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"name": "Gold", "plan": {"devices": {"sip_device": {"rate": 1}}}}))
    assert (validate(good).exit_code, validate(good).output) == (0, "ok\n")


def test_the_plans_of_a_reseller_database(world):
    nyc = world.id("nyc")
    assert world.cli("plans", "validate", "--db", nyc).output == "ok: 1 plans\n"
    db = world.sim.couch.db(f"account/{nyc[:2]}/{nyc[2:4]}/{nyc[4:]}")
    db.put({"_id": "broken", "pvt_type": "service_plan", "plan": {"devices": {"sip_device": {"rate": 1}}}})
    one_error(world.cli("plans", "validate", "--db", nyc), f"{db.name}/broken: name: missing")
