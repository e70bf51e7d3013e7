"""Usage reports and billing metrics over simulated months, reconciled with the invoices and the ledger; the charts
they draw are checked (size, not blank) and the same figures are read from `/metrics`."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from simulation import run

from bookkeeper.documents import Invoices
from feeds.metrics import samples
from feeds.service import build

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "bookkeeper"
CAMERAS_VIEW = {
    "_id": "_design/cameras",
    "language": "javascript",
    "views": {
        "by_plan": {
            "map": "function (doc) { if (doc.pvt_type === 'camera' && !doc.pvt_deleted) "
            "emit([doc.recording_plan], 1); }",
            "reduce": "_count",
        }
    },
}
DEVICE = {"pvt_type": "device", "device_type": "sip_device"}


def camera(plan: str) -> dict:
    return {"pvt_type": "camera", "recording_plan": plan}


def world() -> dict:
    return {
        "start": "2026-01-01T00:00:00Z",
        "until": "2026-04-01T00:00:00Z",
        "resellers": {
            "master": {
                "settings": {
                    "billable_counters": [{"category": "cameras", "view": "cameras/by_plan"}],
                    "daily_categories": ["cameras"],
                    "vat_rate": 10,
                },
                "plans": {
                    "video": {
                        "name": "Video",
                        "plan": {
                            "cameras": {"7_days": {"rate": 3}, "30_days": {"rate": 9}},
                            "devices": {"sip_device": {"rate": 10}},
                        },
                    }
                },
            }
        },
        "accounts": {
            "shop": {"plans": ["video"], "balance": 500, "docs": [CAMERAS_VIEW, camera("7_days"), DEVICE]},
            "farm": {"plans": ["video"], "balance": 100, "docs": [CAMERAS_VIEW, camera("30_days")]},
        },
        "events": [
            {"at": "2026-02-10T09:00:00Z", "account": "shop", "create": camera("30_days"), "count": 2},
            {"at": "2026-02-20T09:00:00Z", "account": "shop", "delete": {"recording_plan": "30_days"}},
            {"at": "2026-03-05T09:00:00Z", "account": "farm", "credit": 40},
            {"at": "2026-03-15T09:00:00Z", "account": "shop", "debit": 7},
        ],
    }


def png_ok(data: bytes) -> Image.Image:
    """A real PNG of the chart's size, not blank: many colours, and ink away from the white background."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (800, 400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20
    white = max(colours)[0]
    assert white < 0.97 * image.size[0] * image.size[1]
    return image


def test_usage_and_metrics_reconcile_with_invoices_and_the_ledger(server, tmp_path):
    _, sim = run(server, world())
    try:
        env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": sim.couch.namespace}

        def cli(*args, text=False):
            out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=180, env=env)
            assert out.returncode == 0, out.stderr
            return out.stdout if text else json.loads(out.stdout)

        invoices = Invoices(sim.couch, sim.engine.ledger, sim.engine.directory)
        now = datetime(2026, 4, 1, 1, tzinfo=UTC)
        totals = {}
        for label in ("shop", "farm"):
            for period in invoices.closed_periods(sim.ids[label], now, 3):
                doc = invoices.generate(sim.ids[label], period, now)
                totals[(label, period.start_date.isoformat())] = Decimal(doc["statement"]["total"])
                assert "usage.png" in sim.couch.db(doc["pvt_account_db"]).get(doc["_id"])["_attachments"]

        shop = sim.ids["shop"]
        feb = cli("reports", "usage", shop, "--period", "2026-02-15", "--chart", str(tmp_path / "u.png"), "--json")
        items = {(i["category"], i["item"]): i for i in feb["items"]}
        # 30_days cameras: 2 from Feb 10 (day 10), 1 from Feb 20; daily fees bill each day's peak
        assert items[("cameras", "30_days")]["daily"] == [0] * 9 + [2] * 10 + [2] + [1] * 8
        assert (items[("cameras", "30_days")]["peak"], items[("cameras", "30_days")]["days"]) == (2, 19)
        assert (items[("cameras", "7_days")]["peak"], items[("cameras", "7_days")]["days"]) == (1, 28)
        assert (items[("devices", "sip_device")]["peak"], items[("devices", "sip_device")]["rate"]) == (1, 10)
        # 7_days: 3 a month in daily fees; devices: MRC 10; 30_days: 9 x 2 / 28 a day for 10 days, then 9 / 28
        assert items[("cameras", "7_days")]["amount"] == 3 and items[("devices", "sip_device")]["amount"] == 10
        assert sum(Decimal(str(i["amount"])) for i in feb["items"]) == Decimal(str(feb["services"]))
        # the invoice charges the services, their 10% VAT and the manual debit (March): the report's total is it
        assert Decimal(str(feb["total"])) == totals[("shop", "2026-02-01")]
        png_ok((tmp_path / "u.png").read_bytes())

        march = cli("reports", "usage", shop, "--period", "2026-03-02", "--json")
        assert Decimal(str(march["total"])) == totals[("shop", "2026-03-01")]
        assert Decimal(str(march["total"])) > Decimal(str(march["services"])) + 7  # + VAT + the manual debit

        rows = list(
            csv.DictReader(
                io.StringIO(
                    cli(
                        "reports",
                        "usage",
                        "--reseller",
                        sim.ids["master"],
                        "--period",
                        "2026-02-15",
                        "--csv",
                        text=True,
                    )
                )
            )
        )
        assert {r["name"] for r in rows} == {"shop", "farm"}
        assert sum(Decimal(r["amount"]) for r in rows if r["name"] == "shop") == Decimal(str(feb["services"]))

        found = cli(
            "reports",
            "metrics",
            "--from",
            "2026-01-01",
            "--to",
            "2026-04-01",
            "--chart",
            str(tmp_path / "m.png"),
            "--json",
        )
        [master] = [r for r in found if r["reseller"] == sim.ids["master"]]
        assert [p["period_start"] for p in master["periods"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
        for p in master["periods"]:
            assert (
                Decimal(str(p["revenue"])) == totals[("shop", p["period_start"])] + totals[("farm", p["period_start"])]
            )
        # MRR: shop's device, 10 a month (cameras are daily: not recurring monthly fees)
        assert [p["mrr"] for p in master["periods"]] == [10, 10, 10]
        # payments: the opening balances; farm's manual credit of 40 is an adjustment of its March invoice
        assert [p["payments"] for p in master["periods"]] == [600, 0, 0]
        assert [p["new_accounts"] for p in master["periods"]] == [2, 0, 0]
        ledger = sim.engine.ledger
        spent = sum(Decimal(str(p["revenue"])) - Decimal(str(p["payments"])) for p in master["periods"])
        balances = sum(ledger.balance(sim.ids[a], datetime(2026, 3, 31, 23, tzinfo=UTC)) for a in ("shop", "farm"))
        assert balances == -spent  # what came in minus what the invoices charged is what is left
        assert master["standing"]["good_standing"] + master["standing"]["delinquent"] == 2
        png_ok((tmp_path / "m.png").read_bytes())

        # the same figures on /metrics: the daemon refreshes them after its tick
        engine, daemon = build(sim.couch, sim.config)
        engine.clock = type("At", (), {"now": staticmethod(lambda: datetime(2026, 3, 20, tzinfo=UTC))})()
        engine.after_tick(datetime(2026, 3, 20, tzinfo=UTC), lambda a: False)
        served = samples(daemon.metrics.render())
        march_revenue = float(master["periods"][2]["revenue"])
        label = f'currency="USD",reseller="{sim.ids["master"]}"'
        assert served[f"bookkeeper_billing_mrr{{{label}}}"] == 10.0
        assert f'bookkeeper_billing_accounts{{{label},standing="blocked"}}' in served
        assert served[f"bookkeeper_billing_revenue{{{label}}}"] <= march_revenue  # March so far (to the 20th)
        # every series the Grafana dashboard plots is one the daemon serves
        dashboard = json.loads((Path(__file__).parents[2] / "deploy/grafana/billing-dashboard.json").read_text())
        used = {
            m
            for panel in dashboard["panels"]
            for target in panel["targets"]
            for m in re.findall(r"bookkeeper_\w+", target["expr"])
        }
        assert len(used) >= 8 and used <= {name.split("{")[0] for name in served}
    finally:
        sim.remove()
