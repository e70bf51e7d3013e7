"""Referral commissions end to end through the simulator: one- and two-level agents, per-category rates, refunds
and corrections in the base, payable payouts, reruns. Amounts are hand-computed in the comments."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from simulation import money, run

from bookkeeper.errors import InputError
from simulator.scenario import parse_scenario

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "bookkeeper"
PLAN = {"name": "Basic", "plan": {"devices": {"sip_device": {"rate": 10, "prorate": {"removals": True}}}}}
DEVICE = {"pvt_type": "device", "device_type": "sip_device"}


def referral_world(billing_settings: dict | None = None) -> dict:
    return {
        "start": "2026-03-01T00:00:00Z",
        "until": "2026-05-02T00:00:00Z",
        "resellers": {
            "master": {"settings": {"currency": "USD", **(billing_settings or {})}, "plans": {"basic": PLAN}}
        },
        "accounts": {
            "ag1": {"agent": {"levels": [10, 5]}},
            "ag2": {"agent": {"levels": ["8"], "categories": {"devices": 12}}, "referred_by": "ag1"},
            "acme": {"plans": ["basic"], "balance": 500, "docs": [DEVICE, DEVICE], "referred_by": "ag1"},
            "bolt": {"plans": ["basic"], "balance": 500, "docs": [DEVICE], "referred_by": "ag2"},
        },
        "events": [
            {"at": "2026-03-10T09:00:00Z", "account": "acme", "create": DEVICE},
            {"at": "2026-03-15T09:00:00Z", "account": "acme", "debit": 5},
            {"at": "2026-03-20T09:00:00Z", "account": "acme", "delete": {"pvt_type": "device"}},
            {"at": "2026-03-25T09:00:00Z", "account": "acme", "credit": 50},
            {"at": "2026-03-28T09:00:00Z", "account": "acme", "correct": {"kind": "manual", "amount": 2}},
        ],
    }


def test_one_and_two_level_commissions_to_the_cent_with_refunds_and_corrections(server, tmp_path):
    result, sim = run(server, referral_world())
    # acme, March: MRC 2 x 10 = 20 + prorate 10 x 22/31 = 7.10 + manual 5 - removal credit 10 x 12/31 = 3.87
    #   - correction 2 of the manual debit = 26.23 (the credit of 50 is a payment: not in the base)
    assert money(result["transactions"], account="acme", kind="prorate_credit") == [Decimal("3.87")]
    # ag1: 10% of 26.23 = 2.623 -> 2.62 (level 1) and 5% of bolt's 10 = 0.50 (level 2, through ag2);
    # April: 10% of 20 = 2.00 and 0.50 again
    ag1 = [(r["at"], r["amount"]) for r in result["transactions"] if r["account"] == "ag1"]
    assert sorted(ag1) == [
        ("2026-04-01T00:00:00Z", Decimal("0.50")),
        ("2026-04-01T00:00:00Z", Decimal("2.62")),
        ("2026-05-01T00:00:00Z", Decimal("0.50")),
        ("2026-05-01T00:00:00Z", Decimal("2.00")),
    ]
    # ag2: devices at 12% (its per-category rate) of bolt's 10 = 1.20, each month; ag2's own charges: none
    assert money(result["transactions"], account="ag2", kind="commission") == [Decimal("1.20")] * 2
    assert result["commissions"] == {"ag1": Decimal("5.62"), "ag2": Decimal("2.40")}
    assert result["balances"]["ag1"] == Decimal("5.62")
    first = next(r for r in result["transactions"] if r["account"] == "ag1" and r["amount"] == Decimal("2.62"))
    assert first["kind"] == "commission" and first["type"] == "credit"
    assert first["description"] == (
        f"Commission level 1 on acme ({sim.ids['acme']}), period 2026-03-01..2026-03-31: 10% of 26.23 USD"
    )
    records = sim.engine.agents.records(sim.ids["ag2"])
    assert [(r.referred_name, r.rate, r.base, r.amount) for r in records] == [
        ("bolt", "8% (devices 12%)", Decimal("10.00"), Decimal("1.20"))
    ] * 2

    # a rerun of every account writes nothing new: no charge, no commission, no record
    ids = list(sim.ids.values())
    again = sim.engine.evaluate_many(ids, now=datetime(2026, 5, 1, 23, tzinfo=UTC), recount=True)
    assert [e.written for e in again] == [()] * len(ids)
    assert len(sim.engine.agents.records(sim.ids["ag1"])) == 6  # acme, ag2 and bolt (level 2), 2 months each
    assert (
        sim.engine.agents.due(sim.engine.directory.account(sim.ids["ag1"]), datetime(2026, 5, 1, 23, tzinfo=UTC)) == []
    )
    try:
        check_the_agents_commands(server, sim, tmp_path)
    finally:
        sim.remove()


def check_the_agents_commands(server, sim, tmp_path):
    env = {**os.environ, "BOOKKEEPER_COUCH_URL": server.url, "BOOKKEEPER_NAMESPACE": sim.couch.namespace}

    def cli(*args, code=0):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == code, out.stderr
        return json.loads(out.stdout) if code == 0 else out.stderr

    ag1, ids = sim.ids["ag1"], {v: k for k, v in sim.ids.items()}
    listed = cli("agents", "accounts", ag1, "--json")
    assert sorted((ids[r["account"]], r["level"], ids[r["via"]]) for r in listed) == [
        ("acme", 1, "ag1"),
        ("ag2", 1, "ag1"),
        ("bolt", 2, "ag2"),
    ]

    statement = cli("agents", "statement", ag1, "--period", "2026-03-15", "--pdf", str(tmp_path / "c.pdf"), "--json")
    assert sorted(
        (ids[r["account"]], r["level"], r["base"], r["commission"], r["recorded"]) for r in statement["lines"]
    ) == [("acme", 1, 26.23, 2.62, True), ("ag2", 1, 0, 0, True), ("bolt", 2, 10, 0.5, True)]
    assert statement["totals"] == {"USD": 3.12}
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(tmp_path / "c.pdf").pages).split())
    assert "Commission statement" in text and "26.23 USD" in text and "Total USD" in text and "3.12 USD" in text
    stored = sim.couch.db(statement["db"]).get(statement["id"])
    assert stored["pvt_type"] == "bookkeeper_commission_statement" and "commissions.pdf" in stored["_attachments"]
    # the open period: computed from the ledger so far, not recorded yet
    current = cli("agents", "statement", ag1, "--period", "2026-05-01", "--json")
    assert {(ids[r["account"]], r["commission"], r["recorded"]) for r in current["lines"]} >= {("acme", 2.0, False)}

    made = cli("agents", "create-account", ag1, "--name", "New Co", "--json")
    sim.ids["newco"] = made["account"]
    assert sim.couch.db("accounts").get(made["account"])["pvt_referred_by"] == ag1
    assert made["account"] in {r["account"] for r in cli("agents", "accounts", ag1, "--json")}
    assert "pvt_agent: this account is no agent" in cli("agents", "statement", sim.ids["acme"], code=2)

    # an administrator moves bolt to ag1: from its next period; ag2 keeps the periods until then
    today = datetime.now(UTC)
    following = datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=UTC).isoformat()
    moved = cli("agents", "refer", sim.ids["bolt"], ag1, "--json")
    assert (moved["pvt_referred_from"], moved["pvt_referred_before"]) == (
        following,
        [{"agent": sim.ids["ag2"], "from": None, "until": following}],
    )
    bolt = {
        (r["level"], ids[r["via"]], r["since"], r["until"])
        for r in cli("agents", "accounts", ag1, "--json")
        if r["account"] == sim.ids["bolt"]
    }
    assert bolt == {(1, "ag1", following, None), (2, "ag2", None, following)}
    march = cli("agents", "statement", ag1, "--period", "2026-03-15", "--json")["lines"]
    assert sorted((ids[r["account"]], r["level"]) for r in march) == [("acme", 1), ("ag2", 1), ("bolt", 2)]
    assert "never its own referrer" in cli("agents", "refer", ag1, ag1, code=2)


def test_payable_commissions_are_recorded_not_credited(server):
    result, sim = run(server, referral_world({"commission_payout": "payable"}))
    assert money(result["transactions"], kind="commission") == []
    assert result["commissions"] == {"ag1": Decimal("5.62"), "ag2": Decimal("2.40")}
    assert result["balances"]["ag1"] == 0
    assert {r.payout for r in sim.engine.agents.records(sim.ids["ag1"])} == {"payable"}
    sim.remove()


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"surprise": 1}, r"^test: surprise: unknown key"),
        ({"accounts": {"acme": {"refered_by": "ag1"}}}, r"^test: accounts.acme.refered_by: unknown key"),
        ({"accounts": {"acme": {"referred_by": "acme"}}}, r"accounts.acme.referred_by: not the label of another agent"),
        ({"accounts": {"acme": {"referred_by": "bolt"}}}, r"accounts.acme.referred_by: not the label of another agent"),
        ({"accounts": {"ag1": {"agent": {"levels": [120]}}}}, r"accounts.ag1.agent.levels.0: not a percentage 0..100"),
        (
            {"events": [{"at": "2026-03-02T00:00:00Z", "account": "acme", "credit": 1, "when": "now"}]},
            r"events\[0\].when: unknown key",
        ),
    ],
)
def test_scenario_keys_it_does_not_know_are_errors(change, problem):
    data = referral_world()
    for key, value in change.items():
        if key == "accounts":
            for label, spec in value.items():
                data["accounts"][label] = {k: v for k, v in data["accounts"][label].items() if k != "referred_by"}
                data["accounts"][label].update(spec)
        else:
            data[key] = value
    with pytest.raises(InputError, match=problem):
        parse_scenario(data, "test")


def test_a_commission_in_another_currency_than_the_agents_is_kept_payable_never_converted(server):
    result, sim = run(
        server,
        {
            "start": "2026-03-01T00:00:00Z",
            "until": "2026-04-02T00:00:00Z",
            "resellers": {
                "master": {"settings": {"currency": "USD"}, "plans": {"basic": PLAN}},
                "euro": {"settings": {"currency": "EUR"}},
            },
            "accounts": {
                "euro": {"reseller": True},
                "ag": {"parent": "euro", "agent": {"levels": [10]}},
                "cafe": {"plans": ["basic"], "balance": 100, "docs": [DEVICE], "referred_by": "ag"},
            },
        },
    )
    assert money(result["transactions"], account="ag") == []
    [record] = sim.engine.agents.records(sim.ids["ag"])
    assert (record.amount, record.currency, record.payout) == (Decimal("1.00"), "USD", "payable")
    assert result["currency"]["ag"] == "EUR" and result["balances"]["ag"] == 0
    sim.remove()
