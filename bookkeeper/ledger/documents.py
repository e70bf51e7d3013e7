"""Money documents as KAZOO stores them (docs/kazoo.md): building them, their ids, and how KAZOO's balance views
count them. Pure: no I/O.

Dialect 4.2 writes `pvt_type: credit|debit` with `pvt_amount`, `pvt_reason` and its `pvt_code` (an activation as
KAZOO's accept-charges debit: `event` and `metadata` instead); 4.3 writes `pvt_type: ledger` with `pvt_ledger_type`,
`amount`, `source`, `usage`, `period`. Amounts are KAZOO units (integers, positive; the sign is the type). Both carry
`pvt_bookkeeper_info` (INFO), what explains the entry (kind, reason, category, item, quantity, rate, proration
factor, period, rule version, key, currency).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeGuard

from ..dbnames import account_db, encode, from_gregorian, modb, modb_prefix, to_gregorian
from ..errors import InputError
from ..money import from_units, round_money, to_units

DIALECTS = ("4.2", "4.3")
CHARGE_KINDS = ("mrc", "prorate", "prorate_credit", "activation", "daily", "vat")
KINDS = ("credit", *CHARGE_KINDS, "payment", "manual", "refund", "correction", "commission", "rollover")
CARRY = "rollover"

# KAZOO 4.2 reason -> code (kazoo_transactions.hrl, wht_util:reasons/0); any other reason is 9999 (reason_code/1).
REASON_CODES = {
    "per_minute_call": 1001,
    "sub_account_per_minute_call": 1002,
    "feature_activation": 2001,
    "sub_account_feature_activation": 2002,
    "number_activation": 2003,
    "sub_account_number_activation": 2004,
    "manual_addition": 3001,
    "sub_account_manual_addition": 3002,
    "auto_addition": 3003,
    "sub_account_auto_addition": 3004,
    "admin_discretion": 3005,
    "topup": 3006,
    "database_rollup": 4000,
    "recurring": 5000,
    "monthly_recurring": 5001,
    "recurring_prorate": 5002,
    "mobile": 6000,
    "unknown": 9999,
}
# The 4.2 reason our charge kinds are written with.
CHARGE_REASONS = {
    "mrc": "monthly_recurring",
    "prorate": "recurring_prorate",
    "prorate_credit": "recurring_prorate",
    "activation": "feature_activation",
    "daily": "recurring",
    "vat": "unknown",
}
# The 4.3 `source.service` of each kind: charges are `services`, money in is `payments`, carry-forward `rollovers`.
SOURCES = {
    **dict.fromkeys(CHARGE_KINDS, "services"),
    "credit": "payments",
    "payment": "payments",
    "refund": "payments",
    "manual": "adjustments",
    "correction": "adjustments",
    "commission": "adjustments",
    CARRY: "rollovers",
}
ROLLOVER_SOURCE = "rollovers"
ROLLUP_REASON = "database_rollup"
MAX_UNITS = 2**53  # above it JSON numbers lose units (IEEE doubles)
LAST_SECOND = 315569520000  # 10000-01-01T00:00:00Z in Gregorian seconds: a `pvt_created` must be before it
EXECUTOR = {"trigger": "automatic", "module": "couch-bookkeeper"}
# Where a money document says what explains it. Not `bookkeeper_info`: KAZOO 4.2's kz_transaction keeps Braintree data
# there (older bookkeepers wrote it; `info_of` still reads it where it has our shape).
INFO = "pvt_bookkeeper_info"
LEGACY_INFO = "bookkeeper_info"


def info_of(doc: dict) -> dict:
    """What a money document says about itself (INFO; an older bookkeeper's `bookkeeper_info` where it has our
    shape), {} for anyone else's document."""
    for key in (INFO, LEGACY_INFO):
        info = doc.get(key)
        if isinstance(info, dict) and info.get("kind") in KINDS:
            return info
    return {}


def reason_code(reason: str) -> int:
    return REASON_CODES.get(reason, 9999)


def digest(key: str) -> str:
    """32 hex characters derived from a key: the part of a deterministic id after `YYYYMM-`."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def keyed_id(key: str, year: int, month: int) -> str:
    return modb_prefix(year, month) + digest(key)


def random_id(year: int, month: int) -> str:
    """KAZOO's `modb_id()`: `YYYYMM-` + 32 random hex characters."""
    return modb_prefix(year, month) + uuid.uuid4().hex


def carry_id(dialect: str, year: int, month: int) -> str:
    """KAZOO's own carry-forward id: 4.2 `monthly_rollup`, 4.3 `YYYYMM-ledgers_monthly_rollover`."""
    return "monthly_rollup" if dialect == "4.2" else modb_prefix(year, month) + "ledgers_monthly_rollover"


def adjustment_prefix(dialect: str, year: int, month: int) -> str:
    """Older bookkeepers corrected a carry-forward with documents `<prefix><n>`, n = 1, 2, ...:
    `YYYYMM-monthly_rollup-n` (4.2) or `YYYYMM-ledgers_monthly_rollover-n` (4.3). KAZOO's `fix_rollovers`
    rewrites the carry-forward itself and would count those twice: a restatement sets them to 0."""
    base = "monthly_rollup" if dialect == "4.2" else "ledgers_monthly_rollover"
    return f"{modb_prefix(year, month)}{base}-"


def month_of(moment: datetime) -> tuple[int, int]:
    """The (year, month) of `moment` in UTC: the MODB a document created then belongs to."""
    utc = from_gregorian(to_gregorian(moment))
    return utc.year, utc.month


def months_from(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every (year, month) from `first` through `last`."""
    out, cur = [], first
    while cur <= last:
        out.append(cur)
        cur = next_month(*cur)
    return out


def add_months(month: tuple[int, int], n: int) -> tuple[int, int]:
    index = month[0] * 12 + month[1] - 1 + n
    return index // 12, index % 12 + 1


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def prev_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def check_amount(amount, currency: str, where: str) -> int:
    """Units of a positive, already rounded Decimal amount; InputError otherwise (never rounded here)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InputError(where, "amount", f"not a Decimal: {amount!r}")
    if amount <= 0:
        raise InputError(where, "amount", f"must be positive, got {amount}")
    if amount != round_money(amount, currency):
        raise InputError(where, "amount", f"{amount} is not a whole number of {currency} minor units")
    units = to_units(amount)
    if units >= MAX_UNITS:
        raise InputError(
            where, "amount", f"{amount} is beyond what a money document can hold ({from_units(MAX_UNITS - 1)})"
        )
    return units


@dataclass(frozen=True)
class Explained:
    """What a money document says about itself, in both dialects (INFO)."""

    kind: str
    reason: str
    description: str
    currency: str
    key: str | None = None
    category: str | None = None
    item: str | None = None
    quantity: int | None = None
    rate: Decimal | None = None
    factor: str | None = None
    day: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    rule_version: str | None = None
    metadata: dict = field(default_factory=dict)
    executor: dict | None = None  # 4.3 `executor` (default EXECUTOR)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "reason": self.reason, "currency": self.currency}
        for name in ("key", "category", "item", "quantity", "factor", "day", "rule_version"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.rate is not None:
            out["rate"] = str(self.rate)
        if self.period_start is not None and self.period_end is not None:
            out["period"] = {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()}
        return out


def build(
    dialect: str,
    doc_id: str,
    account_id: str,
    year: int,
    month: int,
    entry_type: str,
    units: int,
    at: datetime,
    what: Explained,
    *,
    account_name: str | None = None,
    available: int | None = None,
) -> dict:
    """One money document (`entry_type` credit|debit, `units` > 0) for the MODB of (year, month).

    As KAZOO writes them: `pvt_account_db` in its encoded form; 4.3 ledgers also carry `account.name` (crossbar's
    `ledgers/summary_by_account` reads it) and, when the writer read it, `audit.available_units`: the month's
    balance in units before this entry (`kz_ledger:save`)."""
    created = to_gregorian(at)
    common = {
        "_id": doc_id,
        "description": what.description,
        "metadata": what.metadata,
        INFO: what.info(),
        "pvt_account_id": account_id,
        "pvt_account_db": encode(modb(account_id, year, month)),
        "pvt_created": created,
        "pvt_modified": created,
    }
    if dialect == "4.2" and what.kind == "activation":
        # KAZOO 4.2's own accept-charges debit (crossbar_services:create_transactions/4): no reason or code (a
        # feature_activation code makes kz_transaction ask for a feature and a number), an `event`, and
        # `metadata.{auth_account_id, category, item}`
        metadata = {**what.metadata, "auth_account_id": account_id, "category": what.category, "item": what.item}
        return {
            **common,
            "metadata": metadata,
            "event": f"Activation charges for {what.item}",
            "pvt_type": entry_type,
            "pvt_amount": units,
            "pvt_vsn": 2,
        }
    if dialect == "4.2":
        return {
            **common,
            "pvt_type": entry_type,
            "pvt_amount": units,
            "pvt_reason": what.reason,
            "pvt_code": reason_code(what.reason),
            "pvt_vsn": 2,
        }
    period = {"start": to_gregorian(what.period_start or at)}
    if what.period_end is not None:
        period["end"] = to_gregorian(what.period_end)
    usage = {
        "type": what.category or what.kind,
        "quantity": what.quantity if what.quantity is not None else 1,
        "unit": what.item or what.kind,
    }
    source_id = what.key if what.key is not None else doc_id
    account = {"id": account_id, **({"name": account_name} if account_name else {})}
    doc = {
        **common,
        "pvt_type": "ledger",
        "pvt_ledger_type": entry_type,
        "amount": units,
        "account": account,
        "source": {"service": SOURCES[what.kind], "id": source_id},
        "usage": usage,
        "period": period,
        "executor": what.executor or EXECUTOR,
        "pvt_vsn": 2,
    }
    if available is not None:
        doc["audit"] = {"available_units": available}
    return doc


def carry_doc(
    dialect: str,
    doc_id: str,
    account_id: str,
    year: int,
    month: int,
    units: int,
    previous: str,
    at: datetime,
    account_name: str | None = None,
) -> dict:
    """The carry-forward into (year, month) worth `units` (signed): month `previous`'s (`YYYYMM`) closing total.
    Its `pvt_created` is the month's first second: it is the balance the month starts with. 4.3 names the new
    month as `kz_ledgers:rollover` does: `source.id` `YYYYMM` and "Monthly rollover for YYYYMM"."""
    label = f"{year:04d}{month:02d}"
    what = Explained(
        CARRY,
        ROLLUP_REASON,
        "monthly rollup" if dialect == "4.2" else f"Monthly rollover for {label}",
        currency="",
        metadata={"automatic_description": True},
    )
    doc = build(
        dialect,
        doc_id,
        account_id,
        year,
        month,
        "credit" if units >= 0 else "debit",
        abs(units),
        month_start(year, month),
        what,
        account_name=account_name,
    )
    doc[INFO] = {"kind": CARRY, "reason": ROLLUP_REASON, "from": previous, "written_at": at.isoformat()}
    if dialect == "4.3":
        doc["source"]["id"] = label
        doc["usage"] = {"type": "rollover", "quantity": 0, "unit": "month"}
    return doc


def restate_carry(doc: dict, units: int, at: datetime) -> dict:
    """`doc` (a carry-forward, ours or KAZOO's, with its `_rev`) rewritten to `units` (signed), as KAZOO's
    `kazoo_ledgers_maintenance:fix_rollover` rewrites it: amount and type, nothing else of KAZOO's changed."""
    kind = "credit" if units >= 0 else "debit"
    out = {**doc, "pvt_modified": to_gregorian(at)}
    if doc.get("pvt_type") == "ledger":
        out.update(amount=abs(units), pvt_ledger_type=kind)
    else:
        out.update(pvt_amount=abs(units), pvt_type=kind)
    out[INFO] = {**info_of(doc), "kind": CARRY, "restated_at": at.isoformat()}
    return out


def is_money(doc: dict) -> bool:
    return doc.get("pvt_type") in ("credit", "debit", "ledger")


def is_carry(doc: dict) -> bool:
    """A carry-forward or its correction, as either dialect writes it (KAZOO's own included)."""
    if doc.get("pvt_type") == "ledger":
        source = doc.get("source")
        return isinstance(source, dict) and source.get("service") == ROLLOVER_SOURCE
    return doc.get("pvt_type") in ("credit", "debit") and doc.get("pvt_reason") == ROLLUP_REASON


def _whole(value: object) -> TypeGuard[int | float]:
    """A JSON number that is a whole number (JavaScript cannot tell 5 from 5.0, so neither do we)."""
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


def amount_field(doc: dict) -> str:
    """Where a money document holds its units: 4.3 ledgers `amount`; 4.2 `pvt_amount` (KAZOO's legacy view
    falls back to `amount`)."""
    return "amount" if doc.get("pvt_type") == "ledger" or "pvt_amount" not in doc else "pvt_amount"


def money_problem(doc: dict) -> str | None:
    """Why a money document cannot be counted (`field: problem`), None if it can. A fixed bound, the same in
    `views/bookkeeper_ledger` (the balance view and validate_doc_update): whole units 0 <= amount < 2^53,
    `pvt_ledger_type` credit|debit on ledgers (and if given on 4.2 documents), `source` an object with a text
    `service` on ledgers (and if given on 4.2 documents), `pvt_created` whole seconds before the year 10000. A
    deleted one is not counted and needs no checking."""
    if doc.get("pvt_deleted") or doc.get("_deleted"):
        return None
    field = amount_field(doc)
    amount = doc.get(field)
    if not _whole(amount) or not 0 <= amount < MAX_UNITS:
        return f"{field}: not whole KAZOO units from 0 to 2^53, got {_shown(amount)}"
    ledger = doc.get("pvt_type") == "ledger"
    if (ledger or "pvt_ledger_type" in doc) and doc.get("pvt_ledger_type") not in ("credit", "debit"):
        return f"pvt_ledger_type: not credit or debit, got {_shown(doc.get('pvt_ledger_type'))}"
    source = doc.get("source")
    if (ledger or "source" in doc) and not (isinstance(source, dict) and isinstance(source.get("service"), str)):
        return f"source: not an object with a text service, got {_shown(source)}"
    created = doc.get("pvt_created")
    if not _whole(created) or not 0 <= created < LAST_SECOND:
        return f"pvt_created: not Gregorian seconds up to the year 9999, got {_shown(created)}"
    return None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def signed_units(doc: dict, dialect: str) -> int:
    """What KAZOO's balance view of `dialect` counts for a valid `doc` (0 if it does not count it, or if the
    document is not valid: `money_problem`).

    4.3 `ledgers/total_by_source`: ledgers only, `amount`, negative when `pvt_ledger_type` is debit.
    4.2 `transactions/credit_remaining`: credit/debit/ledger, `pvt_amount || amount`, sign from either type.
    Documents with `pvt_deleted` count nothing in both.
    """
    kind = doc.get("pvt_type")
    if kind not in ("credit", "debit", "ledger") or (dialect == "4.3" and kind != "ledger"):
        return 0
    if doc.get("pvt_deleted") or doc.get("_deleted") or money_problem(doc) is not None:
        return 0
    units = int(doc[amount_field(doc)])
    if kind == "credit" or doc.get("pvt_ledger_type") == "credit":
        return units
    return -units


@dataclass(frozen=True)
class Entry:
    """One money document as the ledger reads it back. `amount` is positive; `type` gives the sign."""

    id: str
    db: str
    account_id: str
    type: str
    amount: Decimal
    kind: str
    reason: str
    at: datetime
    description: str
    category: str | None
    item: str | None
    quantity: int | None
    rate: Decimal | None
    factor: str | None
    period_start: datetime | None
    period_end: datetime | None
    key: str | None
    metadata: dict
    doc: dict

    @property
    def day(self) -> int | None:
        """The day index within its period a charge was made on (our charges say it), else None."""
        day = info_of(self.doc).get("day")
        return day if isinstance(day, int) and not isinstance(day, bool) else None


def entry_of(doc: dict, db: str, account_id: str, dialect: str) -> Entry:
    """Read a valid money document (`money_problem`) of either dialect (ours or KAZOO's own) as an Entry."""
    info = info_of(doc)
    units = signed_units(doc, dialect)
    if doc.get("pvt_type") == "ledger":
        default_kind = CARRY if is_carry(doc) else doc["source"]["service"]
        reason = _text(info.get("reason")) or default_kind
    else:
        default_kind = CARRY if is_carry(doc) else _text(doc.get("pvt_reason")) or "unknown"
        reason = _text(doc.get("pvt_reason")) or "unknown"
    start, end = _period(info.get("period"))
    quantity = info.get("quantity")
    return Entry(
        id=doc["_id"],
        db=db,
        account_id=account_id,
        type="debit" if units < 0 else "credit",
        amount=from_units(abs(units)),
        kind=info.get("kind", default_kind),
        reason=reason,
        at=from_gregorian(int(doc["pvt_created"])),
        description=_text(doc.get("description")),
        category=_text(info.get("category")) or None,
        item=_text(info.get("item")) or None,
        quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None,
        rate=_decimal(info.get("rate")),
        factor=_text(info.get("factor")) or None,
        period_start=start,
        period_end=end,
        key=_text(info.get("key")) or None,
        metadata=doc["metadata"] if isinstance(doc.get("metadata"), dict) else {},
        doc=doc,
    )


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _decimal(value) -> Decimal | None:
    try:
        rate = Decimal(value) if isinstance(value, str) else None
    except ArithmeticError:
        return None
    return rate if rate is not None and rate.is_finite() else None


def _period(value) -> tuple[datetime | None, datetime | None]:
    try:
        return datetime.fromisoformat(value["start"]), datetime.fromisoformat(value["end"])
    except (TypeError, KeyError, ValueError):
        return None, None


def marker_id(key: str) -> str:
    """The replay marker of a keyed credit/debit in the account DB (see Ledger.credit)."""
    return "bookkeeper_ledger_key-" + digest(key)


def marker_doc(key: str, account_id: str, entry: dict, at: datetime) -> dict:
    return {
        "_id": marker_id(key),
        "pvt_type": "bookkeeper_ledger_key",
        "key": key,
        "pvt_account_id": account_id,
        "pvt_account_db": account_db(account_id),
        "modb": entry["pvt_account_db"],
        "entry": entry,
        "pvt_created": to_gregorian(at),
    }
