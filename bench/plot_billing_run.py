"""Plot the period-start billing run's seconds against N (issue 9) from `bench/billing_run.py --json` lines.

    .venv/bin/python bench/plot_billing_run.py docs/data/billing_runs.jsonl docs/images/billing_run.png

Each input line is either the bench's JSON or an object with the bench's JSON under "result".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen
import matplotlib.pyplot as plt


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted((r.get("result", r) for r in rows), key=lambda r: r["accounts"])


def plot(runs: list[dict], out: Path) -> None:
    n = [r["accounts"] for r in runs]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(n, [r["seconds"] for r in runs], "o-", label="billing run (engine)")
    ax.plot(n, [r["raw_bulk_seconds"] for r in runs], "s--", label="raw _bulk_docs of the same documents")
    for r in runs:
        ax.annotate(
            f"ratio {r['ratio']}", (r["accounts"], r["seconds"]), textcoords="offset points", xytext=(4, 6), fontsize=8
        )
    ax.set_xlabel("accounts (5 plan items each)")
    ax.set_ylabel("seconds")
    ax.set_title("Period-start billing run on the embedded PouchDB Server")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="JSON lines from bench/billing_run.py --json")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()
    plot(load(args.runs), args.out)


if __name__ == "__main__":
    main()
