"""The gateway interface: a verified external payment becomes a ledger credit, a reversal a ledger debit.

A gateway module turns one inbound notification into a `Notice` (what it reports, already verified) or raises
`HookError` (a 4xx/5xx answer with a reason). `Cashier.book` then checks the account against the reseller,
the currency and the amount, and writes through the ledger under a key derived from the gateway's own
transaction id: `payment:<gateway>:<txid>` for a payment, `refund:<gateway>:<reversal id>` for its reversal, so
a replayed notification writes nothing, in any month. The notification itself is kept in the entry's metadata.
A reversal is only written for a payment that was credited (the ledger's replay marker of its key exists);
one that does not name its account (a Stripe refund) takes the payment's, remembered at the credit in the
reseller's DB as `bookkeeper_payment-<hash of the key>`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..accounts import Directory, UnknownAccount
from ..couch import Conflict, Couch
from ..dbnames import account_db, is_account_id, to_gregorian
from ..errors import InputError
from ..ledger import Ledger, WriteResult
from ..ledger.documents import MAX_UNITS, digest, marker_id
from ..money import minor_digits, parse_amount, to_units

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

log = logging.getLogger(__name__)
PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(\.[0-9]{1,18})?")


@dataclass(frozen=True)
class Inbound:
    """One inbound hook request: the raw body and its headers (a case-insensitive mapping)."""

    body: bytes
    headers: Mapping[str, str] | Headers


class HookError(Exception):
    """A notification refused: `status` is the HTTP answer (4xx: the sender's fault; 5xx: retry later)."""

    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason
        super().__init__(f"{status}: {reason}")


@dataclass(frozen=True)
class Movement:
    """Money a gateway reports: `credit` (a payment, `txid` its id) or `debit` (a reversal of payment `txid`,
    `reversal_id` the refund's or dispute's own id). A reversal may leave `account_id` None: the account the
    payment was credited to is taken."""

    gateway: str
    type: str
    account_id: str | None
    amount: Decimal
    currency: str
    txid: str
    description: str
    reversal_id: str | None = None

    @property
    def payment_key(self) -> str:
        return f"payment:{self.gateway}:{self.txid}"

    @property
    def key(self) -> str:
        return self.payment_key if self.type == "credit" else f"refund:{self.gateway}:{self.reversal_id or self.txid}"


@dataclass(frozen=True)
class Notice:
    """What one verified notification asks for: movements to book (maybe none) and a note for the answer."""

    movements: tuple[Movement, ...] = ()
    note: str = ""
    raw: object = None


@dataclass(frozen=True)
class Booked:
    """The outcome of one movement: `result` is credited, reversed, replayed or nothing_to_reverse."""

    key: str
    account_id: str
    result: str
    id: str | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "account_id": self.account_id, "result": self.result, "id": self.id}


def parse_form(body: bytes, charset: str = "utf-8") -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body; a field given twice or an undecodable body is refused."""
    try:
        text = body.decode(charset)
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding=charset,
            errors="strict",
            max_num_fields=200,
        )
    except (UnicodeDecodeError, LookupError, ValueError):
        raise HookError(400, "body: not a form in " + charset) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise HookError(400, f"{name}: given twice")
        fields[name] = value
    return fields


def require(fields: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not fields.get(n)]
    if missing:
        raise HookError(400, f"{', '.join(missing)}: missing")


def amount_from_text(text, currency: str, what: str) -> Decimal:
    """A gateway's decimal amount text, exact (more digits than the currency has is refused, never rounded);
    plain digits with an optional sign and decimal point only (no exponent such as `1e3`, no `Infinity`)."""
    if not isinstance(text, str) or not text.strip():
        raise HookError(422, f"{what}: missing amount")
    if not PLAIN_DECIMAL.fullmatch(text.strip()):
        raise HookError(422, f"{what}: not a plain decimal amount: {text.strip()[:40]!r}")
    try:
        return parse_amount(text, currency, what)
    except InputError as exc:
        raise HookError(422, str(exc)) from None


def amount_from_minor(units, currency: str, what: str) -> Decimal:
    """An amount in minor units (Stripe's integers) as an exact Decimal."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise HookError(422, f"{what}: amount must be an integer of minor units, got {units!r}")
    if not 0 <= units < MAX_UNITS:
        raise HookError(422, f"{what}: amount out of range: {units}")
    return Decimal(units).scaleb(-minor_digits(currency))


class Cashier:
    """Checks and books movements for one reseller: account in the reseller's tree, currency, amount."""

    def __init__(
        self, couch: Couch, ledger: Ledger, directory: Directory, after_credit: Callable[[str], None] | None = None
    ):
        self.couch, self.ledger, self.directory = couch, ledger, directory
        self.after_credit = after_credit or (lambda account_id: None)

    def currency_of(self, reseller_id: str, configured: str | None) -> str:
        """The reseller's billing currency; a gateway section naming another one is a configuration error."""
        currency = self.directory.reseller_settings(reseller_id).currency
        if configured is not None and configured != currency:
            log.error("%s: gateway currency %s differs from the billing currency %s", reseller_id, configured, currency)
            raise HookError(503, "gateway misconfigured for this reseller")
        return currency

    def check(self, reseller_id: str, currency: str, movement: Movement) -> str:
        """Refuse (4xx) a movement for an account outside the reseller's tree, in another currency, or not > 0;
        the account's id."""
        account_id = movement.account_id
        if not is_account_id(account_id):
            raise HookError(422, f"account: not a KAZOO account id: {account_id!r}")
        try:
            account = self.directory.account(account_id)
        except UnknownAccount:
            raise HookError(422, f"account: no such account {account_id}") from None
        if self.directory.reseller_of(account) != reseller_id:
            raise HookError(422, f"account: {account_id} is not a customer of reseller {reseller_id}")
        if movement.currency != currency:
            raise HookError(422, f"currency: {movement.currency} is not this reseller's currency {currency}")
        if movement.amount <= 0:
            raise HookError(422, f"amount: must be positive, got {movement.amount}")
        if to_units(movement.amount) >= MAX_UNITS:
            raise HookError(422, f"amount: too large: {movement.amount}")
        return account_id

    def book(self, reseller_id: str, currency: str, notice: Notice, at: datetime) -> list[Booked]:
        """Check every movement first, then write them; each write is keyed, so a retry completes the rest.
        A reversal that names no account takes the account its payment was credited to."""
        todo, done = [], []
        for movement in notice.movements:
            if movement.account_id is None:
                payer = self.payer(reseller_id, movement.payment_key)
                if payer is None:
                    done.append(Booked(movement.key, "", "nothing_to_reverse"))
                    continue
                movement = replace(movement, account_id=payer)
            todo.append((self.check(reseller_id, currency, movement), movement))
        done += [self._write(reseller_id, account_id, movement, notice.raw, at) for account_id, movement in todo]
        for account_id in sorted({b.account_id for b in done if b.result == "credited"}):
            try:
                self.after_credit(account_id)
            except Exception:  # the money is booked; a failed re-evaluation is the daemon's to retry
                log.exception("after_credit(%s) failed", account_id)
        return done

    def _write(self, reseller_id: str, account_id: str, movement: Movement, raw: Any, at: datetime) -> Booked:
        metadata = {
            "gateway": movement.gateway,
            "reseller_id": reseller_id,
            "transaction_id": movement.txid,
            "notification": raw,
        }
        if movement.type == "credit":
            self._remember_payer(reseller_id, movement, at)
            write: Callable[..., WriteResult] = self.ledger.credit
            kind, moved, outcome = "payment", "credited", "credited"
        else:
            if not self.was_credited(account_id, movement.payment_key):
                log.warning("%s: reversal %s of a payment never credited: nothing to reverse", account_id, movement.key)
                return Booked(movement.key, account_id, "nothing_to_reverse")
            metadata["reversal_id"] = movement.reversal_id
            write = self.ledger.debit
            kind, moved, outcome = "refund", "debited", "reversed"
        result = write(
            account_id,
            movement.amount,
            movement.currency,
            kind=kind,
            reason=f"{movement.gateway}_{kind}",
            description=movement.description,
            at=at,
            key=movement.key,
            metadata=metadata,
        )
        if result.written:
            log.info(
                "%s %s %s (%s %s) %s to account %s as %s",
                kind,
                movement.amount,
                movement.currency,
                movement.gateway,
                movement.txid,
                moved,
                account_id,
                result.id,
            )
        return Booked(movement.key, account_id, outcome if result.written else "replayed", result.id)

    def _remember_payer(self, reseller_id: str, movement: Movement, at: datetime) -> None:
        """Record in the reseller's DB which account a payment went to, for reversals that do not say it."""
        doc = {
            "_id": payer_id(movement.payment_key),
            "pvt_type": "bookkeeper_payment",
            "key": movement.payment_key,
            "account_id": movement.account_id,
            "pvt_created": to_gregorian(at),
        }
        with contextlib.suppress(Conflict):
            self.couch.db(account_db(reseller_id)).put(doc)

    def payer(self, reseller_id: str, payment_key: str) -> str | None:
        """The account a payment of this reseller was credited to, if it was."""
        doc = self.couch.db(account_db(reseller_id)).get_or_none(payer_id(payment_key))
        return doc.get("account_id") if doc else None

    def was_credited(self, account_id: str, payment_key: str) -> bool:
        """Whether the ledger holds the keyed payment (its replay marker exists in the account DB)."""
        return self.couch.db(account_db(account_id)).get_or_none(marker_id(payment_key)) is not None


def payer_id(payment_key: str) -> str:
    return "bookkeeper_payment-" + digest(payment_key)
