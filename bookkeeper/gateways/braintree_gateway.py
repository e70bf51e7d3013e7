"""Braintree through its SDK: card sales against the vaulted customer and webhooks, `POST /hooks/braintree/<id>`.

The customer id is the account id, as KAZOO's braintree bookkeeper has it. A webhook is verified with
`WebhookNotification.parse`; the transaction it names is then read back from the Braintree API, which says
the customer (the account), the amount and the currency. `transaction_settled` and
`subscription_charged_successfully` credit `payment:braintree:<txid>` (a top-up credited at the sale is not
credited again); `transaction_settlement_declined` and `dispute_lost` debit `refund:braintree:<txid>` (once, even
if both come); `dispute_opened` is logged and answered 200. Sales and credits KAZOO 4.3 asked for over AMQP carry the
order id `kazoo-<its transaction id>`: KAZOO books those in its own ledger, so their webhooks credit nothing.
"""

from __future__ import annotations

import logging
from base64 import decodebytes
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import braintree
from braintree.exceptions import InvalidChallengeError, InvalidSignatureError, NotFoundError
from braintree.exceptions.braintree_error import BraintreeError
from braintree.webhook_notification import WebhookNotification

from ..errors import BookkeeperError
from .base import HookError, Inbound, Movement, Notice, amount_from_text, parse_form, require
from .config import BraintreeConfig

NAME = "braintree"
Kind = WebhookNotification.Kind
CREDITS = (Kind.TransactionSettled, Kind.SubscriptionChargedSuccessfully)
ACCEPTED = ("authorized", "submitted_for_settlement", "settlement_pending", "settling", "settled")
KAZOO_ORDER_PREFIX = "kazoo-"  # order ids of sales and refunds KAZOO asked for: KAZOO books those itself
log = logging.getLogger(__name__)


def environment(name: str) -> braintree.Environment:
    """`sandbox`, `production`, or `http://127.0.0.1:<port>`: a local stub of the API (tests)."""
    if name == "sandbox":
        return braintree.Environment.Sandbox
    if name == "production":
        return braintree.Environment.Production
    parts = urlsplit(name)
    return braintree.Environment("local", parts.hostname or "", str(parts.port), "", False, None)


def sdk(config: BraintreeConfig) -> braintree.BraintreeGateway:
    return braintree.BraintreeGateway(
        braintree.Configuration(
            environment=environment(config.environment),
            merchant_id=config.merchant_id,
            public_key=config.public_key,
            private_key=config.private_key.get_secret_value(),
            timeout=config.timeout,  # type: ignore[arg-type]  # seconds for requests, fractions too; stubs say int
            wrap_http_exceptions=True,
        )
    )


@dataclass(frozen=True)
class Sale:
    """The outcome of a card sale: `completed` False with a `message` when Braintree refused or failed."""

    completed: bool
    txid: str | None
    status: str
    message: str
    amount: Decimal
    currency: str


def sale(config: BraintreeConfig, account_id: str, amount: Decimal, currency: str, order_id: str) -> Sale:
    """Charge `amount` to the default payment method of customer `account_id`, submitted for settlement."""
    return _transact("sale", config, account_id, amount, currency, order_id)


def credit(config: BraintreeConfig, account_id: str, amount: Decimal, currency: str, order_id: str) -> Sale:
    """Pay `amount` back to the default payment method of customer `account_id` (a Braintree credit, as KAZOO's
    braintree app refunds)."""
    return _transact("credit", config, account_id, amount, currency, order_id)


def _transact(
    kind: str, config: BraintreeConfig, account_id: str, amount: Decimal, currency: str, order_id: str
) -> Sale:
    params: dict[str, Any] = {"amount": format(amount, "f"), "customer_id": account_id, "order_id": order_id}
    if kind == "sale":
        params["options"] = {"submit_for_settlement": True}
    if config.merchant_account_id:
        params["merchant_account_id"] = config.merchant_account_id
    try:
        result = getattr(sdk(config).transaction, kind)(params)
    except BraintreeError as exc:
        return Sale(False, None, "failed", f"Braintree unavailable: {exc.__class__.__name__}", amount, currency)
    txn = result.transaction
    if result.is_success:
        return _outcome(txn, amount, currency)
    return Sale(False, txn.id if txn else None, txn.status if txn else "failed", result.message, amount, currency)


def _outcome(txn, amount: Decimal, currency: str) -> Sale:
    """A transaction Braintree accepted, checked against the account's currency (never converted)."""
    if txn.currency_iso_code != currency:
        return Sale(False, txn.id, "failed", f"charged in {txn.currency_iso_code}, not {currency}", amount, currency)
    return Sale(txn.status in ACCEPTED, txn.id, txn.status, "", Decimal(str(txn.amount)), currency)


def find_order(config: BraintreeConfig, order_id: str, kind: str, currency: str) -> Sale | None:
    """The `kind` transaction (sale or credit) made under `order_id`, if Braintree has one: a repeated request
    is answered from it instead of moving the money again."""
    try:
        found = [
            t
            for t in sdk(config).transaction.search(braintree.TransactionSearch.order_id == order_id).items
            if t.type == kind
        ]
    except BraintreeError as exc:
        raise BookkeeperError(f"Braintree unavailable: {exc.__class__.__name__}") from None
    return _outcome(found[0], Decimal(str(found[0].amount)), currency) if found else None


def _fetch(gateway: braintree.BraintreeGateway, txid) -> braintree.Transaction:
    if not isinstance(txid, str) or not txid:
        raise HookError(422, "transaction: the notification names none")
    try:
        return gateway.transaction.find(txid)
    except NotFoundError:
        raise HookError(422, f"transaction: {txid} not found at Braintree") from None
    except BraintreeError as exc:
        raise HookError(503, f"Braintree unavailable: {exc.__class__.__name__}") from None


def _movement(config: BraintreeConfig, txn, kind: str, amount: Decimal, currency: str) -> Movement:
    if config.merchant_account_id and txn.merchant_account_id != config.merchant_account_id:
        raise HookError(422, f"merchant_account_id: {txn.merchant_account_id} is not this reseller's")
    customer = getattr(getattr(txn, "customer_details", None), "id", None)
    exact = amount_from_text(str(amount), currency, "amount")
    if kind in CREDITS:
        return Movement(NAME, "credit", customer, exact, currency, txn.id, f"Braintree payment {txn.id}")
    return Movement(
        NAME,
        "debit",
        customer,
        exact,
        currency,
        txn.id,
        f"Braintree {kind.replace('_', ' ')} {txn.id}",
        reversal_id=txn.id,
    )


def notice(inbound: Inbound, config: BraintreeConfig) -> Notice:
    """Verify one webhook and say what it moves."""
    fields = parse_form(inbound.body)
    require(fields, "bt_signature", "bt_payload")
    gateway = sdk(config)
    try:
        notification = gateway.webhook_notification.parse(fields["bt_signature"], fields["bt_payload"])
        payload = decodebytes(fields["bt_payload"].encode("ascii")).decode("utf-8")
    except (InvalidSignatureError, InvalidChallengeError):
        raise HookError(403, "bt_signature: signature mismatch") from None
    except Exception:  # a signed but unreadable payload: the SDK's XML parser raises anything
        raise HookError(400, "bt_payload: not a Braintree notification") from None
    kind = notification.kind
    raw = {"kind": kind, "payload": payload}
    if kind in CREDITS or kind == Kind.TransactionSettlementDeclined:
        if kind == Kind.SubscriptionChargedSuccessfully:
            charged = notification.subscription.transactions
            txid = charged[0].id if charged else None
        else:
            txid = notification.transaction.id
        txn = _fetch(gateway, txid)
        if (getattr(txn, "order_id", None) or "").startswith(KAZOO_ORDER_PREFIX):
            return Notice(note=f"ignored: KAZOO books transaction {txid} itself", raw=raw)
        return Notice((_movement(config, txn, kind, txn.amount, txn.currency_iso_code),), raw=raw)
    if kind == Kind.DisputeLost:
        dispute = notification.dispute
        txn = _fetch(gateway, dispute.transaction.id)
        if dispute.amount_disputed is None:
            raise HookError(422, f"dispute {dispute.id}: no amount_disputed")
        return Notice((_movement(config, txn, kind, dispute.amount_disputed, dispute.currency_iso_code),), raw=raw)
    if kind == Kind.DisputeOpened:
        log.warning(
            "Braintree dispute %s opened on transaction %s: reversed if lost",
            notification.dispute.id,
            notification.dispute.transaction.id,
        )
        return Notice(note="noted: dispute opened", raw=raw)
    return Notice(note=f"ignored: {kind}", raw=raw)
