"""Custom counters end to end: a reseller's own view counts what its plans price (cameras in a video cloud), through
the simulator's real engine and change feeds. Amounts are hand-computed in the comments."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simulation import money, run

BIN = Path(sys.executable).parent / "bookkeeper"
CAMERAS_VIEW: dict[str, Any] = {
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
COUNTER = {"category": "cameras", "view": "cameras/by_plan", "item": "{0}"}
VIDEO = {
    "name": "Video cloud",
    "plan": {"cameras": {"7_days": {"rate": 5}, "30_days": {"rate": 12, "activation_charge": 2}}},
}


def camera(plan: str) -> dict:
    return {"pvt_type": "camera", "recording_plan": plan}


def video_cloud(start: str, until: str, account: dict, events: list, billing_settings: dict | None = None) -> dict:
    return {
        "start": start,
        "until": until,
        "resellers": {
            "master": {
                "settings": {"billable_counters": [COUNTER], **(billing_settings or {})},
                "plans": {"video": VIDEO},
            }
        },
        "accounts": {"shop": {"plans": ["video"], "balance": 1000, **account}},
        "events": events,
    }


@pytest.mark.slow
def test_a_year_of_cameras_per_recording_plan_billed_through_their_own_view(server):
    result, sim = run(
        server,
        video_cloud(
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            {"docs": [CAMERAS_VIEW, *[camera("7_days")] * 3, camera("30_days")]},
            [
                {"at": "2026-03-10T09:00:00Z", "account": "shop", "create": camera("30_days"), "count": 2},
                {"at": "2026-03-20T09:00:00Z", "account": "shop", "delete": {"recording_plan": "7_days"}},
                {
                    "at": "2026-06-15T09:00:00Z",
                    "account": "shop",
                    "update": {"match": {"recording_plan": "7_days"}, "set": {"recording_plan": "30_days"}},
                },
                {"at": "2026-09-01T09:00:00Z", "account": "shop", "delete": {"recording_plan": "30_days"}, "count": 2},
                {"at": "2026-10-05T09:00:00Z", "account": "shop", "create": camera("30_days")},
                {"at": "2026-10-20T09:00:00Z", "account": "shop", "delete": {"recording_plan": "30_days"}},
                {"at": "2026-10-25T09:00:00Z", "account": "shop", "create": camera("30_days")},
            ],
        ),
    )
    debits = [
        (r["at"][:10], r["kind"], r.get("item"), r["amount"]) for r in result["transactions"] if r["type"] == "debit"
    ]
    mrc = {}
    for at, kind, _, amount in debits:
        if kind == "mrc":
            mrc[at[:7]] = mrc.get(at[:7], 0) + amount
    # Jan-Mar: 3 x 5 + 1 x 12 = 27; Apr-Jun: 2 x 5 + 3 x 12 = 46; Jul-Sep: 1 x 5 + 4 x 12 = 53;
    # Oct: 1 x 5 + 2 x 12 = 29; Nov-Dec: 1 x 5 + 3 x 12 = 41
    assert mrc == {
        "2026-01": 27,
        "2026-02": 27,
        "2026-03": 27,
        "2026-04": 46,
        "2026-05": 46,
        "2026-06": 46,
        "2026-07": 53,
        "2026-08": 53,
        "2026-09": 53,
        "2026-10": 29,
        "2026-11": 41,
        "2026-12": 41,
    }
    assert sorted(d for d in debits if d[1] != "mrc") == [  # entries of one moment come in any order
        # Mar 10 (day 10 of 31): 30_days 12 -> 36, 24 x 22/31 = 17.032; 2 units above the period's mark of 1
        ("2026-03-10", "activation", "30_days", Decimal("4.00")),
        ("2026-03-10", "prorate", "30_days", Decimal("17.03")),
        # Jun 15 (day 15 of 30): 30_days 36 -> 48, 12 x 16/30 = 6.40 (7_days 10 -> 5 is not credited); 4 above 3
        ("2026-06-15", "activation", "30_days", Decimal("2.00")),
        ("2026-06-15", "prorate", "30_days", Decimal("6.40")),
        # Oct 5 (day 5 of 31): 30_days 24 -> 36, 12 x 27/31 = 10.452; removed on the 20th, re-added on the 25th: nothing
        ("2026-10-05", "activation", "30_days", Decimal("2.00")),
        ("2026-10-05", "prorate", "30_days", Decimal("10.45")),
    ]
    # removals (Mar 20, Sep 1, Oct 20) are not credited: the plan has no prorate.removals
    assert money(result["transactions"], type="credit") == [Decimal("1000")]
    assert sum(d[3] for d in debits) == Decimal("530.88")
    assert result["balances"]["shop"] == Decimal("469.12")
    assert result["quantities"]["shop"] == {"cameras": {"7_days": 1, "30_days": 3}}

    # a rerun of every account over the same year's end writes nothing new
    ids = list(sim.ids.values())
    again = sim.engine.evaluate_many(ids, now=datetime(2026, 12, 31, 23, tzinfo=UTC), recount=True)
    assert [e.written for e in again] == [()] * len(ids)
    sim.remove()


def test_daily_counters_and_a_reseller_billed_for_its_customers_cameras_by_cascade(server):
    result, sim = run(
        server,
        {
            "start": "2026-04-01T00:00:00Z",
            "until": "2026-04-04T00:00:00Z",
            "resellers": {
                "master": {
                    "settings": {"billable_counters": [COUNTER]},
                    "plans": {
                        "wholesale": {"name": "Wholesale", "plan": {"cameras": {"_all": {"rate": 3, "cascade": True}}}}
                    },
                },
                "vid": {
                    "settings": {"billable_counters": [COUNTER], "daily_categories": ["cameras"]},
                    "plans": {"video": VIDEO},
                },
            },
            "accounts": {
                "vid": {"reseller": True, "plans": ["wholesale"], "balance": 100, "docs": [CAMERAS_VIEW]},
                "shop": {
                    "parent": "vid",
                    "plans": ["video"],
                    "balance": 100,
                    "docs": [CAMERAS_VIEW, camera("7_days"), camera("30_days")],
                },
            },
            "events": [{"at": "2026-04-02T12:00:00Z", "account": "shop", "create": camera("30_days")}],
        },
    )
    shop = sorted(
        (r["at"], r["kind"], r.get("item"), r["amount"])
        for r in result["transactions"]
        if r["account"] == "shop" and r["type"] == "debit"
    )
    # daily over 30 days: 7_days 5/30 a day -> 0.17, 0.16, 0.17; 30_days 12 -> 0.40 a day, 24 on the 2nd's peak:
    # day 2 = R(24 x 2/30) - R(24 x 1/30) = 1.60 - 0.80 = 0.80, 0.40 of it charged at noon; day 3 = 2.40 - 1.60
    assert shop == [
        ("2026-04-01T00:00:00Z", "daily", "30_days", Decimal("0.40")),
        ("2026-04-01T00:00:00Z", "daily", "7_days", Decimal("0.17")),
        ("2026-04-02T00:00:00Z", "daily", "30_days", Decimal("0.40")),
        ("2026-04-02T00:00:00Z", "daily", "7_days", Decimal("0.16")),
        ("2026-04-02T12:00:00Z", "activation", "30_days", Decimal("2.00")),
        ("2026-04-02T12:00:00Z", "daily", "30_days", Decimal("0.40")),
        ("2026-04-03T00:00:00Z", "daily", "30_days", Decimal("0.80")),
        ("2026-04-03T00:00:00Z", "daily", "7_days", Decimal("0.17")),
    ]
    # the reseller pays the master 3 a camera of its customers (cascade): 2 x 3 = 6 (on day 1, as an increase once
    # its customer's first count is in), then the 3rd camera on day 2: 3 x 29/30 = 2.90
    assert [
        (r["at"], r["kind"], r["amount"])
        for r in result["transactions"]
        if r["account"] == "vid" and r["type"] == "debit"
    ] == [("2026-04-01T00:00:00Z", "prorate", Decimal("6.00")), ("2026-04-02T12:00:00Z", "prorate", Decimal("2.90"))]
    sim.remove()


def test_the_reseller_adding_a_counter_recounts_its_accounts_at_once(server):
    result, sim = run(
        server,
        video_cloud(
            "2026-05-01T00:00:00Z",
            "2026-05-03T00:00:00Z",
            {"docs": [CAMERAS_VIEW, camera("30_days"), camera("30_days")]},
            [
                {
                    "at": "2026-05-02T06:00:00Z",
                    "account": "master",
                    "update": {"match": {"_id": "configs_bookkeeper"}, "set": {"billable_counters": [COUNTER]}},
                }
            ],
            billing_settings={"billable_counters": []},
        ),
    )
    # counted from May 2 (day 2 of 31): 24 x 30/31 = 23.225; activation of both units above the mark of 0
    assert sorted((r["at"], r["kind"], r["amount"]) for r in result["transactions"] if r["type"] == "debit") == [
        ("2026-05-02T06:00:00Z", "activation", Decimal("4.00")),
        ("2026-05-02T06:00:00Z", "prorate", Decimal("23.23")),
    ]
    assert result["quantities"]["shop"] == {"cameras": {"30_days": 2}}
    sim.remove()


@pytest.mark.parametrize(
    "view, problem",
    [
        (None, r"_design/cameras: no such design document \(counter 'cameras'\)"),
        (
            {**CAMERAS_VIEW, "views": {"by_plan": {"map": CAMERAS_VIEW["views"]["by_plan"]["map"]}}},
            r"_design/cameras: views.by_plan.reduce: must be _count or _sum, got null",
        ),
        (
            {**CAMERAS_VIEW, "views": {"by_plan": {**CAMERAS_VIEW["views"]["by_plan"], "reduce": "_stats"}}},
            r"views.by_plan.reduce: must be _count or _sum, got \"_stats\"",
        ),
        (
            {
                **CAMERAS_VIEW,
                "views": {
                    "by_plan": {
                        "map": "function (doc) { if (doc.pvt_type === 'camera') emit([doc.recording_plan], -1); }",
                        "reduce": "_sum",
                    }
                },
            },
            r"_view/by_plan: key \[\"30_days\"\]: not a whole number ≥ 0: -1",
        ),
        pytest.param(
            {
                **CAMERAS_VIEW,
                "views": {
                    "by_plan": {
                        "map": "function (doc) { if (doc.pvt_type === 'camera') emit([doc.recording_plan], 'one'); }",
                        "reduce": "_sum",
                    }
                },
            },
            r"_view/by_plan: the view fails: ",
            marks=pytest.mark.slow,  # its 500 is retried with backoff before it counts as the view's failure
        ),
        (
            {
                **CAMERAS_VIEW,
                "views": {
                    "by_plan": {
                        "map": "function (doc) { if (doc.pvt_type === 'camera') emit([{}], 1); }",
                        "reduce": "_count",
                    }
                },
            },
            r"_view/by_plan: key \[\{\}\]: gives no item name for '\{0\}'",
        ),
    ],
)
def test_a_counter_that_cannot_be_read_holds_the_account_never_a_zero(server, view, problem):
    scenario = video_cloud(
        "2026-05-01T00:00:00Z", "2026-05-03T00:00:00Z", {"docs": [camera("30_days")] + ([view] if view else [])}, []
    )
    scenario["accounts"]["other"] = {"plans": ["video"], "balance": 10, "docs": [CAMERAS_VIEW, camera("7_days")]}
    result, sim = run(server, scenario)
    assert list(result["held"]) == ["shop"] and re.search(problem, result["held"]["shop"])
    assert money(result["transactions"], account="shop", type="debit") == []
    assert result["quantities"]["shop"] == {}
    # the other account of the reseller is billed: its MRC of 5
    assert money(result["transactions"], account="other", type="debit") == [Decimal("5.00")]
    sim.remove()


def test_plans_quote_prices_counter_quantities_like_any_category(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps(VIDEO))
    (tmp_path / "q.json").write_text(json.dumps({"cameras": {"7_days": 2, "30_days": 1}}))
    out = subprocess.run(
        [
            str(BIN),
            "plans",
            "quote",
            "--plan",
            str(tmp_path / "plan.json"),
            "--quantities",
            str(tmp_path / "q.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    quote = json.loads(out.stdout)
    assert {(i["item"], i["quantity"], i["total"]) for i in quote["items"]} == {("7_days", 2, 10), ("30_days", 1, 12)}
    assert quote["summary"]["recurring"] == 22
