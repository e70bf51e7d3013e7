"""Hostile and broken money documents (issue: hostile input, points 2 and 7), against the real server: whoever
can write a monthly DB (KAZOO itself writes there as admin) cannot break an account's balance, its listing or
`ledger verify`, nor set its balance through the `_local` checkpoint."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from waiting import wait_until

from bookkeeper.clock import SimulatedClock
from bookkeeper.couch import Forbidden
from bookkeeper.dbnames import modb, to_gregorian
from bookkeeper.ledger import Ledger
from cli import main

USD = "USD"
WHEN = datetime(2026, 1, 5, 12, tzinfo=UTC)


def good(dialect: str, doc_id: str, **changes) -> dict:
    """A money document as KAZOO writes one (10.00 credit), with `changes` applied (None removes a field)."""
    doc = {"_id": doc_id, "pvt_created": to_gregorian(WHEN), "description": "hand-written"}
    if dialect == "4.3":
        doc.update(
            pvt_type="ledger", pvt_ledger_type="credit", amount=100000, source={"service": "adjustments", "id": doc_id}
        )
    else:
        doc.update(pvt_type="credit", pvt_amount=100000, pvt_reason="manual_addition", pvt_code=3001)
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def malformed(dialect: str) -> dict[str, dict]:
    """One broken document per defect the issue found, by id."""
    amount = "amount" if dialect == "4.3" else "pvt_amount"
    bad: dict[str, dict[str, Any]] = {
        "202601-text": {amount: "500"},
        "202601-huge": {amount: 1e300},
        "202601-negative": {amount: -100000},
        "202601-fraction": {amount: 10.5},
        "202601-beyond53": {amount: 2**53},
        "202601-source": {"source": "payments"},
        "202601-nocreated": {"pvt_created": None},
        "202601-farcreated": {"pvt_created": 1e300},
    }
    if dialect == "4.3":
        bad["202601-ledgertype"] = {"pvt_ledger_type": ["debit"]}
        bad["202601-nosource"] = {"source": None}
    return {doc_id: good(dialect, doc_id, **changes) for doc_id, changes in bad.items()}


MASTER = "0" * 32  # the master of the `account` fixture's accounts (tests/ledger/conftest.py)


def run(server, dialect, *args):
    return CliRunner().invoke(
        main,
        ["--couch-url", server.url, "ledger", *args],
        env={"BOOKKEEPER_DIALECT": dialect, "BOOKKEEPER_MASTER_ACCOUNT": MASTER},
    )


def test_malformed_money_documents_are_skipped_logged_counted_and_named_by_verify(
    server, couch, account, ledger, dialect, caplog
):
    ledger.credit(account, Decimal("10.00"), USD, kind="manual", reason="manual_addition", description="ok", at=WHEN)
    jan = couch.db(modb(account, 2026, 1))
    bad = malformed(dialect)
    jan.bulk_docs([*bad.values(), good(dialect, "202601-valid")])  # as admin, as KAZOO could
    caplog.set_level(logging.WARNING, "bookkeeper.ledger.totals")
    fresh = Ledger(couch, dialect, clock=SimulatedClock(datetime(2026, 1, 20, tzinfo=UTC)))
    assert fresh.balance(account) == Decimal("20.00")  # ours and the valid hand-written one
    assert fresh.balance(account, datetime(2026, 1, 6, tzinfo=UTC)) == Decimal("20.00")
    if not fresh.totals.stored_reductions:  # PouchDB: the balance reads the documents themselves
        assert {doc_id for _, doc_id in fresh.totals.invalid} == set(bad)
    entries = fresh.entries(account, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert sorted(e.id for e in entries if e.kind != "rollover") != [] and not set(bad) & {e.id for e in entries}
    problems = fresh.verify(account)
    for doc_id in bad:
        assert any(p.startswith(f"202601: {doc_id}: invalid money document, not counted: ") for p in problems), (
            doc_id,
            problems,
        )
    assert (
        "202601: 202601-text: invalid money document, not counted: "
        f"{'amount' if dialect == '4.3' else 'pvt_amount'}: not whole KAZOO units from 0 to 2^53, got '500'" in problems
    )
    assert {doc_id for _, doc_id in fresh.totals.invalid} == set(bad)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert all(f"{jan.name}/{doc_id}" in logged for doc_id in bad)
    listed = run(server, dialect, "list", account, "--from", "2026-01-01", "--to", "2026-02-01", "--json")
    assert listed.exit_code == 0, listed.output
    balance = run(server, dialect, "balance", account, "--currency", USD, "--at", "2026-01-20")
    assert (balance.exit_code, balance.output) == (0, "20.00 USD\n")
    verified = run(server, dialect, "verify", account)
    assert verified.exit_code == 1 and "202601: 202601-huge: invalid money document, not counted" in verified.output
    assert "Traceback" not in verified.output


def test_validate_doc_update_refuses_malformed_new_money_documents_from_non_admins(account, ledger, dialect, member):
    written = ledger.credit(
        account, Decimal("1.00"), USD, kind="manual", reason="manual_addition", description="opens the month", at=WHEN
    )
    eve = member(f"eve{account[:8]}", written.db)
    for doc_id, doc in malformed(dialect).items():
        with pytest.raises(Forbidden, match=f"money document {doc_id}: "):
            eve.put(doc)
    assert eve.put(good(dialect, "202601-fine")).startswith("1-")  # a valid new one is still accepted
    # a member's plain PUT (no `w`: it may not read `_membership`) reaches every copy of a cluster a moment later
    wait_until(lambda: ledger.balance(account, datetime(2026, 1, 6, tzinfo=UTC)) == Decimal("11.00"), timeout=10)


def test_a_balance_checkpoint_written_by_someone_else_is_not_trusted(server, couch, account, ledger, dialect):
    ledger.credit(account, Decimal("10.00"), USD, kind="manual", reason="manual_addition", description="ok", at=WHEN)
    jan = couch.db(modb(account, 2026, 1))
    checkpoint_id = f"_local/bookkeeper_total-{dialect}"
    stored = jan.get_or_none(checkpoint_id) or {}
    forged = {**stored, "_id": checkpoint_id, "since": jan.info()["update_seq"], "units": 1_000_000_000, "latest": 0}
    jan.put(forged)
    fresh = Ledger(couch, dialect, clock=SimulatedClock(datetime(2026, 1, 20, tzinfo=UTC)))
    assert fresh.balance(account) == Decimal("10.00")
    jan.put({**jan.get(checkpoint_id), "units": 1_000_000_000})  # a real checkpoint, its units changed
    verified = run(server, dialect, "verify", account)
    assert (verified.exit_code, verified.output) == (
        1,
        "202601: the balance checkpoint does not match its MAC (not written by this bookkeeper); checkpoint rebuilt\n",
    )
    assert Ledger(couch, dialect).balance(account, datetime(2026, 1, 20, tzinfo=UTC)) == Decimal("10.00")
    assert run(server, dialect, "verify", account).exit_code == 0
