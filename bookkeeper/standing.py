"""Accounts and their standing, as `bookkeeper accounts list` shows them: the standing and block the last
evaluation left on the account's documents, the balance, and whether the account is held (a document it depends on
is invalid: it is not billed until that is fixed; see `holds.py`)."""

from __future__ import annotations

from datetime import datetime

from .accounts import Account, Directory
from .billing import BATCH
from .errors import InputError
from .ledger import Ledger


def standing_rows(
    directory: Directory,
    ledger: Ledger,
    now: datetime,
    *,
    reseller: str | None = None,
    delinquent: bool = False,
    blocked: bool = False,
) -> list[dict]:
    """One row per account (`reseller`: only its customers; `delinquent`, `blocked`: only those), in the order of
    the `accounts` database: {account, name, reseller, standing, blocked, balance, currency, held}."""
    ids = directory.all_account_ids()
    rows = []
    for start in range(0, len(ids), BATCH):
        accounts = [
            a for a in directory.accounts(ids[start : start + BATCH]) if reseller is None or a.reseller == reseller
        ]
        directory.refresh([a for a in accounts if a.problem is None])
        for account in accounts:
            row = _row(directory, ledger, account, now)
            if (not delinquent or row["standing"] == "delinquent") and (not blocked or row["blocked"]):
                rows.append(row)
    return rows


def _row(directory: Directory, ledger: Ledger, account: Account, now: datetime) -> dict:
    held, currency = None, None
    try:
        if account.problem is not None:
            raise account.problem
        currency = directory.reseller_settings(account.reseller).currency
        directory.merged_plans(account, account.reseller)
    except InputError as err:
        held = str(err)
    block = None
    if not account.enabled:
        block = "bookkeeper" if account.blocked_by_us else "administrator"
    return {
        "account": account.id,
        "name": account.name,
        "reseller": account.reseller,
        "standing": account.services.get("pvt_status") or "unknown",
        "blocked": block,
        "balance": ledger.balance(account.id, now) if currency else None,
        "currency": currency,
        "held": held,
    }
