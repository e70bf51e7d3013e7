"""KAZOO 4.2's HTTP bookkeeper (`kz_bookkeeper_http`, docs/kazoo.md), answered from our ledger.

A 4.2 cluster with `system_config/services.master_account_bookkeeper: kz_bookkeeper_http` and
`services.http_sync.http_url` pointing at `POST /kazoo/http_sync` sends `{account_id, sync_id, items}` with the
configured `Authorization` header. We answer 200 (good standing: available funds ≥ 0) or 402 (delinquent);
KAZOO ignores the body and retries on anything else. The items are not needed: the daemon recounts quantities
from the account's own documents. The expected `Authorization` is `http_sync.authorization` in the master
account's `configs_bookkeeper_gateways`; without it every sync is refused.
"""

from __future__ import annotations

import hmac
import json
from decimal import Decimal

from ..accounts import Directory, UnknownAccount
from ..dbnames import is_account_id
from ..ledger import Ledger
from .base import HookError
from .config import HttpSyncConfig, load_section


def authorize(directory: Directory, header: str | None) -> None:
    config = load_section(directory.couch, directory.master_id, "http_sync")
    if not isinstance(config, HttpSyncConfig):
        raise HookError(403, "http_sync is not configured in the master account")
    if not header or not hmac.compare_digest(header.encode(), config.authorization.get_secret_value().encode()):
        raise HookError(403, "Authorization: wrong or missing")


def standing(directory: Directory, ledger: Ledger, body: bytes) -> tuple[int, dict]:
    """(200 or 402, a JSON-able body) for one sync request."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HookError(400, "body: not JSON") from None
    account_id = request.get("account_id") if isinstance(request, dict) else None
    if not is_account_id(account_id):
        raise HookError(400, "account_id: not a KAZOO account id")
    try:
        account = directory.account(account_id)
    except UnknownAccount:
        raise HookError(404, f"account_id: no such account {account_id}") from None
    allowed, max_postpay = account.postpay
    available = ledger.balance(account_id) + (max_postpay if allowed else Decimal(0))
    good = available >= 0
    return (200 if good else 402), {
        "account_id": account_id,
        "sync_id": request.get("sync_id"),
        "status": "good_standing" if good else "delinquent",
        "available": format(available, "f"),
    }
