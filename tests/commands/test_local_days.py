"""Dates people type are days in the reseller's time zone (issue 19.4): `acme` is billed by a New York reseller."""

from __future__ import annotations

import json

WIRE = ("--reason", "wire_transfer", "--description", "wire")


def test_a_period_is_the_reseller_s_day(world):
    acme = world.id("acme")
    explained = json.loads(world.cli("billing", "explain", acme, "--period", "2026-12-01", "--json").output)
    assert explained["period"]["start"] == "2026-12-01T00:00:00-05:00"
    run = json.loads(world.cli("billing", "run", "--account", acme, "--at", "2026-12-01", "--dry-run", "--json").output)
    assert run["at"] == "2026-12-01T00:00:00-05:00"
    [mrc] = run["accounts"][0]["charges"]
    assert (mrc["kind"], mrc["date"], mrc["factor"]) == ("mrc", "2026-12-01", "31/31")  # December's, not November's
    invoice = world.cli("invoices", "generate", acme, "--period", "2026-11-01", "--json")
    assert invoice.exit_code == 0, invoice.stderr
    assert json.loads(invoice.output)["period_start"].startswith("2026-11-01")


def test_at_from_and_to_without_an_offset_are_local(world):
    acme = world.id("acme")
    late = world.cli("ledger", "credit", acme, "3", *WIRE, "--at", "2026-11-19T23:00", "--json")  # 04:00Z on the 20th
    local = world.cli("ledger", "credit", acme, "5", *WIRE, "--at", "2026-11-20", "--json")
    assert late.exit_code == local.exit_code == 0, late.stderr + local.stderr
    entries = json.loads(
        world.cli("ledger", "list", acme, "--from", "2026-11-20", "--to", "2026-11-21", "--json").output
    )
    assert [(e["at"], e["amount"]) for e in entries] == [("2026-11-20T05:00:00+00:00", 5)]
    before = json.loads(
        world.cli("ledger", "list", acme, "--from", "2026-11-19", "--to", "2026-11-20", "--json").output
    )
    assert [(e["at"], e["amount"]) for e in before] == [("2026-11-20T04:00:00+00:00", 3)]
    at = lambda text: json.loads(world.cli("ledger", "balance", acme, "--at", text, "--json").output)["balance"]  # noqa
    assert (at("2026-11-19T23:30"), at("2026-11-20T00:30")) == (103, 108)
    assert at("2026-11-20T04:30:00Z") == 103  # an offset is taken as given
