"""`bookkeeper simulate` end to end: the real engine, the real change feeds, a real server (docs/contracts.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
BIN = Path(sys.executable).parent / "bookkeeper"


def simulate(server, scenario: Path, *extra):
    return subprocess.run(
        [str(BIN), "--couch-url", server.url, "simulate", str(scenario), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def contains(expected, actual, path="$"):
    """Every field of `expected` is in `actual` with the same value (contracts may add fields)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            contains(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            contains(e, a, f"{path}[{i}]")
    else:
        assert expected == actual, f"{path}: expected {expected!r}, got {actual!r}"


def test_golden_simulate_basic(server):
    run = simulate(server, GOLDEN / "simulate-basic.scenario.json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    expected = json.loads((GOLDEN / "simulate-basic.expected.json").read_text())
    contains(expected, result)


def test_a_scenario_error_is_one_line_and_exit_2(server, tmp_path):
    bad = json.loads((GOLDEN / "simulate-basic.scenario.json").read_text())
    bad["events"][0]["account"] = "nobody"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    run = simulate(server, path)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {path}: events[0].account: unknown account label 'nobody'"


def scenario_error(server, tmp_path, change) -> tuple[int, str]:
    """`simulate` on the golden scenario after `change(data)`: its exit code and stderr."""
    data = json.loads((GOLDEN / "simulate-basic.scenario.json").read_text())
    change(data)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    run = simulate(server, path)
    return run.returncode, run.stderr.replace(str(path), "scenario.json")


@pytest.mark.slow  # a `bookkeeper simulate` process for each row
@pytest.mark.parametrize(
    "change,line",
    [
        (lambda d: d.update(currency="USD"), "currency: unknown key"),
        (lambda d: d["accounts"]["acme"].update(colour="red"), "accounts.acme.colour: unknown key"),
        (lambda d: d["events"][3].update(quantity=5), "events[3].quantity: unknown key"),
        (lambda d: d["resellers"]["master"].update(plan={}), "resellers.master.plan: unknown key"),
        (lambda d: d["events"][0].update(count="two"), "events[0].count: must be a whole number ≥ 1, got 'two'"),
        (
            lambda d: d["accounts"]["acme"].update(docs={"pvt_type": "device"}),
            'accounts.acme.docs: not a list: {"pvt_type": "device"}',
        ),
        (lambda d: d["accounts"]["acme"].update(plans=["basic", 7]), "accounts.acme.plans[1]: not a string: 7"),
        (lambda d: d["events"][2].update(limits=[3]), "events[2].limits: not an object: [3]"),
        (lambda d: d["events"][3].update(credit="fifty"), "events[3].credit: not an amount: 'fifty'"),
        (lambda d: d.pop("until"), "until: required"),
    ],
)
def test_a_scenario_key_or_type_the_format_does_not_know_is_named_by_its_path(server, tmp_path, change, line):
    code, stderr = scenario_error(server, tmp_path, change)
    assert (code, stderr) == (2, f"error: scenario.json: {line}\n")
