"""`bookkeeper simulate` end to end: the real engine, the real change feeds, a real server (docs/contracts.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
