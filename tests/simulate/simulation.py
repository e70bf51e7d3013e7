"""Running a scenario dict through the simulator in a test's own namespace, and picking amounts out of it."""

import uuid

from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from simulator.run import Simulation
from simulator.scenario import parse_scenario


def run(server, data: dict) -> tuple[dict, Simulation]:
    """The scenario's report, and the simulation (its databases kept: `sim.remove()` when done)."""
    couch = Couch(server.url, namespace=f"sc{uuid.uuid4().hex[:10]}-", retries=3)
    sim = Simulation(parse_scenario(data, "test"), couch, load_config(env={}, couch_url=server.url))
    return sim.run(keep=True), sim


def money(rows, **match):
    """The amounts of the transactions whose fields equal `match`."""
    return [r["amount"] for r in rows if all(r.get(k) == v for k, v in match.items())]
