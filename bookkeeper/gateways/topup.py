"""Top-ups: a card sale against the account's vaulted Braintree customer, credited to the ledger (docs/kazoo.md).

Every sale is recorded as a KAZOO 4.3 transaction document (`pvt_type: transaction`, status pending, then
completed or failed, never counted in a balance) in the account's current MODB; a completed sale is credited as
`payment:braintree:<txid>`, reason `topup`. Both carry KAZOO's executor (`kz_services_topup`, the trigger), so
KAZOO's own 24-hour guard sees our top-ups. Automatic top-up as KAZOO 4.3 does it, switched on by the deployment
setting `auto_topup` (not by `system_config/topup.enable`, KAZOO's own switch, docs/kazoo.md), for an account doc
with `topup.{amount,threshold}` both > 0, when available funds fall strictly below the threshold. At most once per
24 h, KAZOO's and ours together: an automatic top-up by KAZOO or us in the last 24 h (a transaction or payments
ledger with that executor, as `kz_services_topup:should_topup` looks for them) blocks it, and the day's marker
`bookkeeper_auto_topup-YYYYMMDD` (UTC) in the account DB is claimed before the card is charged, so two daemons
cannot both fire, and yesterday's marker younger than 24 h blocks today's. A failure is recorded on the
transaction document and the marker, logged, and not retried before the next window.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ..accounts import Directory, UnknownAccount, master_account_id
from ..couch import Conflict, Couch, NotFound
from ..dbnames import ACCOUNTS_DB, account_db, encode, modb, to_gregorian
from ..errors import BookkeeperError, InputError
from ..ledger import Ledger
from ..ledger.documents import digest, month_of
from ..money import parse_amount, to_units
from . import braintree_gateway
from .config import BraintreeConfig, load_section

log = logging.getLogger(__name__)
MARKER_PREFIX = "bookkeeper_auto_topup-"
EXECUTOR_MODULE = "kz_services_topup"  # KAZOO's: its daily guard looks for this module with trigger automatic
AUTOMATIC = "automatic"


@dataclass(frozen=True)
class TopupResult:
    """`status`: completed, failed or skipped; `reason` says why it failed or was skipped."""

    account_id: str
    status: str
    reason: str = ""
    amount: Decimal | None = None
    currency: str | None = None
    transaction_id: str | None = None
    entry_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def topup(
    couch: Couch,
    ledger: Ledger,
    account_id: str,
    amount: Decimal,
    now: datetime,
    *,
    trigger: str = "manual",
    order_id: str | None = None,
    directory: Directory | None = None,
) -> TopupResult:
    """Charge `amount` (exact, in the reseller's currency) to the account's card and credit it."""
    directory = directory or Directory(couch, master_account_id(couch), ledger.dialect)
    try:
        account = directory.account(account_id)
    except UnknownAccount as exc:
        raise InputError("topup", "account", str(exc)) from None
    reseller_id = directory.reseller_of(account)
    currency = directory.reseller_settings(reseller_id).currency
    if not isinstance(amount, Decimal) or amount <= 0:
        raise InputError("topup", "amount", f"must be a positive amount, got {amount!r}")
    parse_amount(format(amount, "f"), currency, "topup: amount")
    config = load_section(couch, reseller_id, "braintree")
    if not isinstance(config, BraintreeConfig) or not config.enabled:
        raise BookkeeperError(f"reseller {reseller_id}: no Braintree configured in its configs_bookkeeper_gateways")
    order_id = order_id or f"topup-{uuid.uuid4().hex}"
    year, month = month_of(now)
    ledger.ensure_rollover(account_id, year, month)
    record = _transaction_doc(account, reseller_id, amount, order_id, trigger, now, year, month)
    txdb = couch.db(modb(account_id, year, month))
    try:
        txdb.put(record)
    except Conflict:
        return TopupResult(account_id, "skipped", f"order {order_id} was already charged", amount, currency)
    sale = braintree_gateway.sale(config, account_id, amount, currency, order_id)
    record.update(status="completed" if sale.completed else "failed", pvt_modified=to_gregorian(now))
    record["bookkeeper"]["results"] = {"status": sale.status, "message": sale.message, "details": {"id": sale.txid}}
    txdb.put(record)
    if not sale.completed:
        log.error("top-up of %s %s for account %s failed: %s", amount, currency, account_id, sale.message)
        return TopupResult(account_id, "failed", sale.message or sale.status, amount, currency, sale.txid)
    written = ledger.credit(
        account_id,
        amount,
        currency,
        kind="payment",
        reason="topup",
        description=record["description"],
        at=now,
        key=f"payment:braintree:{sale.txid}",
        metadata={
            "gateway": "braintree",
            "transaction_id": sale.txid,
            "trigger": trigger,
            "transaction": {"id": record["_id"], "created": True},
        },
        executor={"trigger": trigger, "module": EXECUTOR_MODULE},
    )
    log.info(
        "top-up %s %s (braintree %s, %s) credited to account %s as %s",
        amount,
        currency,
        sale.txid,
        trigger,
        account_id,
        written.id,
    )
    return TopupResult(account_id, "completed", "", amount, currency, sale.txid, written.id)


def _transaction_doc(
    account, reseller_id: str, amount: Decimal, order_id: str, trigger: str, now: datetime, year: int, month: int
) -> dict:
    """KAZOO 4.3's transaction document (docs/kazoo.md), pending."""
    seconds = to_gregorian(now)
    description = "Automatic top-up" if trigger == AUTOMATIC else "Manual top-up"
    return {
        "_id": f"{year:04d}{month:02d}-{digest('sale:braintree:' + order_id)}",
        "pvt_type": "transaction",
        "pvt_transaction_type": "sale",
        "amount": to_units(amount),
        "status": "pending",
        "account": {"id": account.id, "name": account.name},
        "description": description,
        "order_id": order_id,
        "executor": {"trigger": trigger, "module": EXECUTOR_MODULE},
        "bookkeeper": {"type": "braintree", "vendor_id": reseller_id},
        "metadata": {"automatic_description": True},
        "pvt_account_id": account.id,
        "pvt_account_db": encode(modb(account.id, year, month)),
        "pvt_created": seconds,
        "pvt_modified": seconds,
    }


def _settings(couch: Couch, account_id: str, currency: str) -> tuple[Decimal, Decimal] | None:
    """(amount, threshold) from the account doc's `topup`, None unless both are > 0."""
    doc = couch.db(ACCOUNTS_DB).get_or_none(account_id) or {}
    topup_doc = doc.get("topup")
    if not isinstance(topup_doc, dict):
        return None
    values = []
    for name in ("amount", "threshold"):
        value = topup_doc.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        values.append(parse_amount(value, currency, f"{ACCOUNTS_DB}/{account_id}: topup.{name}"))
    return (values[0], values[1]) if min(values) > 0 else None


def maybe_auto_topup(
    couch: Couch,
    ledger: Ledger,
    account_id: str,
    available: Decimal,
    now: datetime,
    *,
    enabled: bool,
    directory: Directory | None = None,
) -> TopupResult:
    """Top up once if `available` is below the account's threshold and no automatic top-up (KAZOO's or ours)
    happened in the last 24 h. `enabled`: the deployment's `auto_topup` setting.

    Never raises for a failed charge (the result says failed); a malformed `topup` is skipped with the reason."""
    if not enabled:
        return TopupResult(account_id, "skipped", "automatic top-ups are off (setting auto_topup)")
    directory = directory or Directory(couch, master_account_id(couch), ledger.dialect)
    try:
        currency = directory.reseller_settings(directory.reseller_of(directory.account(account_id))).currency
        wanted = _settings(couch, account_id, currency)
    except (UnknownAccount, InputError) as exc:
        log.error("auto top-up of %s: %s", account_id, exc)
        return TopupResult(account_id, "skipped", str(exc))
    if wanted is None:
        return TopupResult(account_id, "skipped", "no topup.amount and topup.threshold > 0 on the account")
    amount, threshold = wanted
    if available >= threshold:
        return TopupResult(account_id, "skipped", f"available {available} is not below the threshold {threshold}")
    if _recent_automatic_topup(couch, account_id, now):
        return TopupResult(account_id, "skipped", "an automatic top-up ran in the last 24 h")
    db = couch.db(account_db(account_id))
    today = now.astimezone(UTC)
    earlier = db.get_or_none(_marker_id(today - timedelta(days=1)))
    if earlier and earlier.get("pvt_created", 0) > to_gregorian(now - timedelta(days=1)):
        return TopupResult(account_id, "skipped", "an automatic top-up ran in the last 24 h")
    marker = {
        "_id": _marker_id(today),
        "pvt_type": "bookkeeper_auto_topup",
        "pvt_account_id": account_id,
        "pvt_created": to_gregorian(now),
        "amount": format(amount, "f"),
        "currency": currency,
        "status": "pending",
    }
    try:
        db.put(marker)
    except Conflict:
        return TopupResult(account_id, "skipped", "an automatic top-up ran in the last 24 h")
    try:
        result = topup(
            couch,
            ledger,
            account_id,
            amount,
            now,
            trigger=AUTOMATIC,
            directory=directory,
            order_id=f"auto-topup-{account_id}-{today:%Y%m%d}",
        )
    except BookkeeperError as exc:
        log.error("auto top-up of %s failed: %s", account_id, exc)
        result = TopupResult(account_id, "failed", str(exc), amount, currency)
    marker.update(status=result.status, reason=result.reason, transaction_id=result.transaction_id)
    db.put(marker)
    return result


def _marker_id(day: datetime) -> str:
    return f"{MARKER_PREFIX}{day:%Y%m%d}"


def _recent_automatic_topup(couch: Couch, account_id: str, now: datetime) -> bool:
    """Whether KAZOO (or we) topped the account up automatically in the 24 h before `now`: a transaction or a
    `payments` ledger whose executor is `kz_services_topup` with trigger `automatic`, read from KAZOO's
    `transactions/list_by_timestamp` and `ledgers/list_by_source` in this month's and the previous month's DBs."""
    since, until = to_gregorian(now - timedelta(days=1)), to_gregorian(now)
    for year, month in sorted({month_of(now - timedelta(days=1)), month_of(now)}):
        db = couch.db(modb(account_id, year, month))
        try:
            rows = db.view("transactions", "list_by_timestamp", startkey=since, endkey=until)["rows"]
            rows += db.view("ledgers", "list_by_source", startkey=["payments", since], endkey=["payments", until])[
                "rows"
            ]
        except NotFound:  # no such month, or KAZOO's design documents without these views
            continue
        executors = [row["value"].get("executor") for row in rows if isinstance(row.get("value"), dict)]
        if any(
            isinstance(e, dict) and e.get("trigger") == AUTOMATIC and e.get("module") == EXECUTOR_MODULE
            for e in executors
        ):
            return True
    return False
