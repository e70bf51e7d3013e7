"""`bookkeeper demo load`: a master account, a EUR reseller and a few customers with devices, users, numbers
and plans, built as KAZOO stores them (from `simulator/demo.json`, with the scenario builder the simulator uses).
Account ids are derived from the labels, so loading twice changes nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from bookkeeper.config import Config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import ACCOUNTS_DB

from .run import Simulation
from .scenario import load_scenario

DEMO = Path(__file__).with_name("demo.json")


def demo_ids(labels) -> dict[str, str]:
    return {label: hashlib.md5(f"couch-bookkeeper demo {label}".encode()).hexdigest() for label in labels}


def load_demo(couch: Couch, config: Config, now: datetime) -> dict:
    """Load the demo accounts unless they are there; returns {label: account id} and whether it loaded."""
    scenario = load_scenario(DEMO)
    ids = demo_ids(scenario.order())
    if couch.db(ACCOUNTS_DB).exists() and couch.db(ACCOUNTS_DB).get_or_none(ids["master"]):
        return {"loaded": False, "accounts": ids}
    world = Simulation(scenario, couch, config, ids)
    world.build(now)
    return {"loaded": True, "accounts": ids}
