"""The disturbed run's worker: walks the chaos scenario from where the database says it stopped.

    python tests/chaos/driver.py URL NAMESPACE SCENARIO.json IDS.json

The test SIGKILLs it at random points and starts it again; it exits 0 once every moment is walked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as pytest has it
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chaos import world


def main() -> int:
    url, namespace, scenario_path, ids_path = sys.argv[1:5]
    sim = world.simulation(
        json.loads(Path(scenario_path).read_text()), url, namespace, ids=json.loads(Path(ids_path).read_text())
    )
    world.attach(sim)
    walked = world.walk(sim, on_moment=lambda m: print(m.isoformat(), flush=True))
    print(f"done {walked}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
