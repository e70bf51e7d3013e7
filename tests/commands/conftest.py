"""A small world for the operator's commands: a UTC master (USD), a New York reseller (USD) with a customer `acme`
on a plan, a EUR reseller with a customer `euro`, and a New York reseller billing devices daily with a customer
`daily`; `cli(*args)` runs `bookkeeper` on it through click's runner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from cli import main
from simulator.run import Simulation
from simulator.scenario import parse_scenario

SCENARIO = {
    "start": "2026-11-01T05:00:00Z",
    "until": "2026-11-02T00:00:00Z",
    "resellers": {
        "master": {"settings": {}},
        "nyc": {
            "settings": {"timezone": "America/New_York"},
            "plans": {"basic": {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10}}}}},
        },
        "eu": {"settings": {"currency": "EUR"}},
        "dly": {
            "settings": {"timezone": "America/New_York", "daily_categories": ["devices"]},
            "plans": {"daily": {"name": "Daily", "plan": {"devices": {"sip_device": {"rate": 31}}}}},
        },
    },
    "accounts": {
        "nyc": {"reseller": True},
        "acme": {"parent": "nyc", "plans": ["basic"], "balance": 100, "docs": [{"pvt_type": "device"}]},
        "eu": {"reseller": True},
        "euro": {"parent": "eu"},
        "dly": {"reseller": True},
        "daily": {"parent": "dly", "plans": ["daily"], "balance": 50, "docs": [{"pvt_type": "device"}]},
    },
}


@dataclass
class World:
    sim: Simulation
    env: dict

    def id(self, label: str) -> str:
        return self.sim.ids[label]

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env, prog_name="bookkeeper")


def build_world(server, dialect: str = "4.3") -> World:
    """The world in a fresh namespace (`world.sim.remove()` removes it)."""
    namespace = f"cli{uuid.uuid4().hex[:8]}-"
    sim = Simulation(
        parse_scenario({**SCENARIO, "dialect": dialect}, "test"),
        Couch(server.url, namespace=namespace),
        load_config(env={}, couch_url=server.url),
    )
    try:
        sim.build()
    except BaseException:
        sim.remove()
        raise
    return World(
        sim,
        {
            "BOOKKEEPER_COUCH_URL": server.url,
            "BOOKKEEPER_NAMESPACE": namespace,
            "BOOKKEEPER_MASTER_ACCOUNT": sim.ids["master"],
            "BOOKKEEPER_DIALECT": dialect,
            "BOOKKEEPER_CONFIG": "",
        },
    )


@pytest.fixture
def make_world(server):
    """`make_world(dialect="4.3")`: the world in a fresh namespace; removed after the test."""
    made: list[World] = []

    def make(dialect: str = "4.3") -> World:
        made.append(build_world(server, dialect))
        return made[-1]

    yield make
    for world in made:
        world.sim.remove()


@pytest.fixture
def world(make_world) -> World:
    return make_world()


@pytest.fixture(scope="module")
def shared_world(server):
    """One world for the tests of a module whose commands are refused before they write anything."""
    made = build_world(server)
    yield made
    made.sim.remove()


def one_error(result: Result, line: str, code: int = 2) -> None:
    """The command failed as a person should see it: exit `code`, exactly one line on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr == f"error: {line}\n"
