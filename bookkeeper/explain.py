"""Charges explained for operators: a period's entries with their days and totals (`billing explain`), and a
billing run's charges per account with its standing and totals (`billing run`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from .clock import local_date, period_containing, zone
from .ledger.documents import info_of
from .money import round_money


def charge_date(period_start: datetime | None, day: int | None, at: datetime, tz) -> date:
    """The local day an entry belongs to: day `day` of the period starting at `period_start` (daily fees, and
    every charge of the engine), else the local date it was written."""
    if period_start is not None and day:
        return local_date(period_start, tz) + timedelta(days=day - 1)
    return local_date(at, tz)


def totals(rows: list[dict], currency: str | None = None) -> dict:
    """Debits, credits and their net (credits - debits) of `rows` (each with `type` and a rounded `amount`),
    shown to `currency`'s minor unit when one is given."""
    debits = sum((r["amount"] for r in rows if r["type"] == "debit"), Decimal(0))
    credits = sum((r["amount"] for r in rows if r["type"] == "credit"), Decimal(0))
    shown = (lambda v: round_money(v, currency)) if currency else (lambda v: v)
    return {"debits": shown(debits), "credits": shown(credits), "net": shown(credits - debits)}


def explain_period(directory, ledger, account_id: str, moment: datetime) -> dict:
    """Every entry of the billing period containing `moment` (carry-forwards aside), with the local day it belongs
    to, the period's totals and the account's standing as KAZOO reads it (services doc `pvt_status`)."""
    account = directory.account(account_id)
    billing_settings = directory.reseller_settings(directory.reseller_of(account))
    tz = zone(billing_settings.timezone)
    span = period_containing(moment, billing_settings.billing_day, tz)
    rows = []
    for e in ledger.entries(account_id, span.start, span.end):
        if e.kind == "rollover":
            continue
        day = info_of(e.doc).get("day")
        rows.append(
            {
                "date": charge_date(e.period_start, day, e.at, tz).isoformat(),
                "at": e.at.isoformat(),
                "type": e.type,
                "kind": e.kind,
                "category": e.category,
                "item": e.item,
                "quantity": e.quantity,
                "rate": e.rate,
                "factor": e.factor,
                "amount": round_money(e.amount, billing_settings.currency),
                "description": e.description,
                "id": e.id,
            }
        )
    return {
        "account": account_id,
        "currency": billing_settings.currency,
        "period": span.to_doc(),
        "last_day": span.last_date.isoformat(),
        "standing": account.services.get("pvt_status", "good_standing"),
        "entries": rows,
        "totals": totals(rows, billing_settings.currency),
    }


def charge_row(charge) -> dict:
    """One charge of an evaluation as `billing run` shows it."""
    return {
        "date": (charge.period_start.date() + timedelta(days=charge.day - 1)).isoformat(),
        "type": charge.type,
        "kind": charge.kind,
        "category": charge.category,
        "item": charge.item,
        "quantity": charge.quantity,
        "rate": charge.rate,
        "factor": charge.factor,
        "amount": charge.amount,
        "currency": charge.currency,
        "description": charge.description,
        "key": charge.key,
    }


def run_account(evaluation) -> dict:
    """One account of a billing run: its charges, what was written, its standing and totals."""
    charges = [charge_row(c) for c in evaluation.decision.charges]
    return {
        "account": evaluation.account_id,
        "standing": evaluation.decision.standing,
        "charges": charges,
        "written": len(evaluation.written),
        "totals": totals(charges, charges[0]["currency"] if charges else None),
    }


def run_totals(accounts: list[dict]) -> dict[str, dict]:
    """A run's totals per currency over every account's charges (`run_account` rows)."""
    by_currency: dict[str, list[dict]] = {}
    for account in accounts:
        for charge in account["charges"]:
            by_currency.setdefault(charge["currency"], []).append(charge)
    return {currency: totals(rows, currency) for currency, rows in sorted(by_currency.items())}
