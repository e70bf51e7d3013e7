"""`bookkeeper invoices ...` as a user runs it, against the real test server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from worlds import NamespacedWorld as World

from cli import main


def run(world, *args):
    return CliRunner().invoke(
        main,
        ["--couch-url", world.url, "invoices", *args],
        env={"BOOKKEEPER_NAMESPACE": world.namespace, "BOOKKEEPER_MASTER_ACCOUNT": world.master},
    )


@pytest.mark.slow
def test_generate_list_show_pdf(world, tmp_path):
    world.configure()
    customer = world.customer("Acme")
    world.charge_january(customer)

    made = run(world, "generate", customer, "--period", "2024-01-17", "--json")
    assert made.exit_code == 0, made.output
    row = json.loads(made.output)
    assert (row["number"], row["id"], row["total"], row["mailed"]) == (
        "PT-2024-000001",
        "202401-invoice-2024-01-01",
        "91.32",
        False,
    )

    # January has its invoice; December (which holds the opening deposit) gets one
    due = run(world, "generate", "--all", "--at", "2024-02-02T03:00:00Z", "--json")
    assert due.exit_code == 0, due.output
    assert [(r["period"], r["number"]) for r in json.loads(due.output)] == [("2023-12-01", "PT-2024-000002")]

    listed = run(world, "list", customer)
    assert listed.exit_code == 0 and "PT-2024-000001" in listed.output and "PT-2024-000002" in listed.output

    shown = run(world, "show", customer, "PT-2024-000001")
    assert shown.exit_code == 0, shown.output
    assert "Daily fee: limits / outbound_trunks" in shown.output and "total 91.32" in shown.output
    assert (
        json.loads(run(world, "show", customer, "202401-invoice-2024-01-01", "--json").output)["number"]
        == "PT-2024-000001"
    )

    out = tmp_path / "invoice.pdf"
    fetched = run(world, "pdf", customer, "PT-2024-000001", "--output", str(out))
    assert fetched.exit_code == 0 and out.read_bytes()[:5] == b"%PDF-"


def test_user_errors_are_one_line(world):
    world.configure()
    customer = world.customer("Acme")
    missing = run(world, "show", customer, "PT-2024-999999")
    assert missing.exit_code == 2 and missing.stderr.startswith(f"error: account {customer}: no invoice")
    future = run(world, "generate", customer, "--period", "2199-01-01")
    assert future.exit_code == 2 and "has not ended yet" in future.stderr


def test_no_invoice_for_a_period_before_the_account_existed(world):
    world.configure()
    customer = world.customer("Acme")  # created 2023-11-20
    world.charge_january(customer)

    early = run(world, "generate", customer, "--period", "2023-10-15")
    assert early.exit_code == 2 and "created on 2023-11-20" in early.output and "Traceback" not in early.output


def test_invoicing_a_month_without_entries_leaves_the_ledger_sound(server, config):
    world = World(server.url, config, "q")
    try:
        now = datetime.now(UTC)
        two_ago = (now.replace(day=1) - timedelta(days=40)).replace(day=15)  # inside the period two months back
        customer = world.new_account("Quiet", [], now - timedelta(days=100))
        world.master = customer
        made = run(world, "generate", customer, "--period", two_ago.date().isoformat(), "--json")
        assert made.exit_code == 0, made.output
        assert json.loads(made.output)["total"] == "0.00"
        verify = CliRunner().invoke(
            main,
            ["--couch-url", world.url, "ledger", "verify", customer, "--json"],
            env={"BOOKKEEPER_NAMESPACE": world.namespace, "BOOKKEEPER_MASTER_ACCOUNT": customer},
        )
        assert verify.exit_code == 0 and json.loads(verify.output)["problems"] == [], verify.output
    finally:
        world.cleanup()
