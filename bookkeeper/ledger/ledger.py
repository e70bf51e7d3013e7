"""The ledger: writes money documents into an account's monthly DBs, reads balances, keeps carry-forwards right.

Never twice (docs/charging.md): a charge's id is `YYYYMM-` + a hash of its key, in the MODB of the month it is
written; before writing it, the months from its period's start are checked for the same key. A keyed
credit or debit (a payment: key = gateway + transaction id) first creates a replay marker
`bookkeeper_ledger_key-<hash>` in the account DB holding the whole entry and its MODB: a replay in any later
month finds the marker (409) and rewrites the remembered entry into its own MODB (409 = already done; a
success completes a write that crashed between the two steps).

Carry-forward: when a month's MODB is first used it is created with the modb design documents and KAZOO's
carry-forward document (4.2 `monthly_rollup`, 4.3 `YYYYMM-ledgers_monthly_rollover`), worth the previous
month's closing total; missing months in between are created the same way. A month this process created (ahead,
or at its first write) does not get its carry-forward by a request of its own when a balance is read first: the
carry is counted in memory ("owed": `balance(defer_carry=True)`, the billing engine's read) and written with that
month's first charges, in the same `_bulk_docs` (any other write or read of the month's documents writes it first,
and so does `settle_carry`, which the engine calls after an evaluation that wrote no charge; so does a balance
read that finds anything else written into the month). Money documents are append-only, also ours; the
carry-forward is not a movement but a statement of the previous balance: an entry that lands in a past month
restates the carry-forward of every later month to the full previous closing total, as KAZOO's `fix_rollovers`
does (a server admin's rewrite), never by a second document beside it, which KAZOO's fix would count twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

from .. import designdocs
from ..clock import Clock, SystemClock
from ..config import Config
from ..couch import Conflict, Couch, CouchError, Database, NotFound, retry_conflicts
from ..dbnames import account_db, check_account_id, from_gregorian, modb, modb_prefix, parse_db_name, to_gregorian
from ..errors import BookkeeperError, InputError
from ..money import KNOWN_CURRENCIES, check_currency, from_units, round_money, to_units
from . import documents as d
from .documents import Entry, Explained
from .prepared import PreparedMonths
from .totals import MonthTotals

Month = tuple[int, int]
TWICE_KINDS = ("mrc", "prorate", "prorate_credit", "activation", "daily")  # what `verify` finds charged twice
KAZOO_BALANCE_VIEW = {"4.3": ("ledgers", "total_by_source"), "4.2": ("transactions", "credit_remaining")}
SKEW = timedelta(hours=1)


class LedgerError(BookkeeperError):
    """The server refused a money document, or the ledger is not in a state to take it."""


@dataclass(frozen=True)
class WriteResult:
    """Where an entry is. `written` False: it was already there (a replay)."""

    id: str
    db: str
    written: bool


class Ledger:
    """An account's money in KAZOO monthly DBs, in the `dialect` ("4.2" or "4.3") of the deployment.

    `clock` decides when a write may be late (a later month may already exist) and which dates are in bounds;
    default: the real time. `horizon` (months back, months ahead): the months a given date may fall in, around
    the clock's month (`check_date`). `currency_of(account_id, currency, where)` (`Directory.currency_of`), when
    given, refuses a credit or debit in a currency that is not the account's.
    """

    def __init__(
        self,
        couch: Couch,
        dialect: str = "4.3",
        *,
        clock: Clock | None = None,
        horizon: tuple[int, int] = (13, 1),
        currency_of: Callable[[str, str, str], str] | None = None,
    ):
        if dialect not in d.DIALECTS:
            raise InputError("ledger", "dialect", f"must be one of {d.DIALECTS}, got {dialect!r}")
        self.couch, self.dialect = couch, dialect
        self.clock = clock or SystemClock()
        self.currency_of = currency_of
        self.horizon = horizon
        self._created: dict[str, datetime | None] = {}  # account -> its account doc's pvt_created
        self.totals = MonthTotals(couch, dialect)
        self._prepared = PreparedMonths()
        self._names: dict[str, str | None] = {}  # account id -> its name, as 4.3 ledgers carry it

    # -- writes
    def credit(
        self,
        account_id: str,
        amount: Decimal,
        currency: str,
        *,
        kind: str,
        reason: str,
        description: str,
        at: datetime,
        key: str | None = None,
        metadata: dict | None = None,
        executor: dict | None = None,
    ) -> WriteResult:
        """Add money. With a `key`, the same key never credits twice, in any month. `executor`: who, in 4.3's
        `executor.{trigger, module}` (default: the bookkeeper, automatic)."""
        return self._write_one(
            account_id, "credit", amount, currency, kind, reason, description, at, key, metadata, executor
        )

    def debit(
        self,
        account_id: str,
        amount: Decimal,
        currency: str,
        *,
        kind: str,
        reason: str,
        description: str,
        at: datetime,
        key: str | None = None,
        metadata: dict | None = None,
    ) -> WriteResult:
        """Take money. With a `key`, the same key never debits twice, in any month."""
        return self._write_one(account_id, "debit", amount, currency, kind, reason, description, at, key, metadata)

    def _write_one(
        self, account_id, entry_type, amount, currency, kind, reason, description, at, key, metadata, executor=None
    ) -> WriteResult:
        where = f"{entry_type} for {account_id}"
        check_account_id_input(account_id, where)
        check_currency(currency, f"{where}: currency")
        if self.currency_of is not None:
            self.currency_of(account_id, currency, f"{where}: currency")
        self.check_date(account_id, at, where)
        if kind not in d.KINDS or kind == d.CARRY:
            raise InputError(where, "kind", f"must be one of {[k for k in d.KINDS if k != d.CARRY]}, got {kind!r}")
        if not isinstance(reason, str) or not reason:
            raise InputError(where, "reason", "a non-empty text is required")
        if not isinstance(description, str):
            raise InputError(where, "description", f"must be text, got {description!r}")
        if metadata is not None and not isinstance(metadata, dict):
            raise InputError(where, "metadata", f"must be an object, got {metadata!r}")
        if key is not None and (not isinstance(key, str) or not key):
            raise InputError(where, "key", f"must be a non-empty text, got {key!r}")
        units = d.check_amount(amount, currency, where)
        year, month = d.month_of(at)
        what = Explained(kind, reason, description, currency, key=key, metadata=metadata or {}, executor=executor)
        doc_id = d.random_id(year, month) if key is None else d.keyed_id(key, year, month)
        doc = d.build(
            self.dialect,
            doc_id,
            account_id,
            year,
            month,
            entry_type,
            units,
            at,
            what,
            account_name=self._account_name(account_id),
        )
        marker = None
        if key is not None:
            marker = self._claim(account_id, key, doc, at)
            doc = marker["entry"]
            parsed = parse_db_name(doc["pvt_account_db"])
            if parsed is None or parsed.month_of is None:
                where = doc["pvt_account_db"]
                raise LedgerError(f"replay marker of {key}: its entry is in no monthly database: {where!r}")
            year, month = parsed.month_of
        db, created = self._open_month(account_id, year, month)
        if self.dialect == "4.3" and "audit" not in doc:  # a copy: a replay's marker keeps the entry as it was
            doc = {**doc, "audit": {"available_units": self._units(db)}}
        try:
            db.put(dict(doc))  # a copy: the marker keeps the entry as first written, without a _rev
            written = True
        except Conflict:
            written = False
        self._after_write(account_id, year, month, created)
        if marker is not None and not marker.get("written"):
            self._mark_written(account_id, marker)
        return WriteResult(doc["_id"], db.name, written)

    def _claim(self, account_id: str, key: str, doc: dict, at: datetime) -> dict:
        """The replay marker for `key`: new with `doc` as its entry, or the one a first attempt left."""
        accounts = self.couch.db(account_db(account_id))
        try:
            marker = d.marker_doc(key, account_id, doc, at)
            accounts.put(marker)
            return marker
        except Conflict:
            marker = accounts.get(d.marker_id(key))
            self._check_reuse(account_id, key, marker, doc)
            return marker
        except NotFound:
            raise LedgerError(
                f"{account_db(account_id)}: no such account database; a keyed entry keeps its replay marker there"
            ) from None

    def _check_reuse(self, account_id: str, key: str, marker: dict, doc: dict) -> None:
        """A key already used by this account: fine for the same entry again (type, amount, currency, reason),
        refused for another one, naming the entry the key holds."""
        stored = marker.get("entry") or {}
        if _identity(stored, self.dialect) != _identity(doc, self.dialect):
            held = d.entry_of(stored, unquote(marker.get("modb", "")), account_id, self.dialect)
            currency = d.info_of(stored).get("currency")
            amount = round_money(held.amount, currency) if currency in KNOWN_CURRENCIES else held.amount
            raise InputError(
                f"{doc_type(doc, self.dialect)} for {account_id}",
                "key",
                f"{key!r} is already used by {held.db}/{held.id} ({held.type} {amount:f} "
                f"{currency or ''}, {held.reason}); another amount or reason needs another key",
            )

    def _mark_written(self, account_id: str, marker: dict) -> None:
        """Record on the marker that its entry is in the ledger. The account DB's change feed then tells the
        daemon that money arrived (the marker's first revision came before the entry existed)."""
        marker["written"] = True
        with contextlib.suppress(Conflict):  # another writer of the same key marked it
            self.couch.db(account_db(account_id)).put(marker)

    def write_charges(
        self, account_id: str, charges: list, currency: str, at: datetime, *, balance: Decimal | None = None
    ) -> list[WriteResult]:
        """Write the charging core's charges together into the MODB of `at`'s month; results in the same order.
        `balance`: the account's balance as the caller read it at `at`, just before (the first charge's 4.3
        `audit.available_units`, each next one's after the charges before it); None: read here.

        A charge already in a MODB from its period's start month on is not written again (written False)."""
        check_account_id_input(account_id, "charges")
        check_currency(currency, f"charges for {account_id}: currency")
        self.check_date(account_id, at, f"charges for {account_id}")
        if not charges:
            return []
        year, month = d.month_of(at)
        docs, seen = [], set()
        for charge in charges:
            docs.append(self._charge_doc(account_id, charge, currency, at, year, month))
            if charge.key in seen:
                raise InputError(f"charge {charge.key}", "key", "twice in one batch")
            seen.add(charge.key)
        results: dict[str, WriteResult] = self._already_written(account_id, charges, (year, month))
        db, created = self._open_month(account_id, year, month, defer=True)
        if self.dialect == "4.3":
            available = self._units(db) if balance is None else to_units(balance)
            for doc in docs:
                doc["audit"] = {"available_units": available}
                available += d.signed_units(doc, self.dialect)
        todo = {doc["_id"]: charge.key for charge, doc in zip(charges, docs, strict=True) if charge.key not in results}
        for doc_id, row in self._pay(db, [doc for doc in docs if doc["_id"] in todo]).items():
            key = todo[doc_id]
            if row.get("ok"):
                results[key] = WriteResult(doc_id, db.name, True)
            elif row.get("error") == "conflict":
                results[key] = WriteResult(doc_id, db.name, False)
            else:
                raise LedgerError(f"{db.name}/{doc_id}: {row.get('error')}: {row.get('reason')}")
        self._after_write(account_id, year, month, created)
        return [results[c.key] for c in charges]

    def _charge_doc(self, account_id: str, charge, currency: str, at: datetime, year: int, month: int) -> dict:
        where = f"charge {getattr(charge, 'key', charge)!r}"
        if not isinstance(charge.key, str) or not charge.key:
            raise InputError(where, "key", "a non-empty text is required")
        if charge.type not in ("credit", "debit"):
            raise InputError(where, "type", f"must be credit or debit, got {charge.type!r}")
        if charge.kind not in d.CHARGE_KINDS:
            raise InputError(where, "kind", f"must be one of {d.CHARGE_KINDS}, got {charge.kind!r}")
        if getattr(charge, "currency", currency) != currency:
            raise InputError(where, "currency", f"{charge.currency} in a batch of {currency}")
        for name in ("period_start", "period_end"):
            _check_at(getattr(charge, name), f"{where}: {name}")
        units = d.check_amount(charge.amount, currency, where)
        what = Explained(
            charge.kind,
            d.CHARGE_REASONS[charge.kind],
            charge.description,
            currency,
            key=charge.key,
            category=charge.category,
            item=charge.item,
            quantity=charge.quantity,
            rate=charge.rate,
            factor=charge.factor,
            day=charge.day,
            period_start=charge.period_start,
            period_end=charge.period_end,
            rule_version=charge.rule_version,
        )
        return d.build(
            self.dialect,
            d.keyed_id(charge.key, year, month),
            account_id,
            year,
            month,
            charge.type,
            units,
            at,
            what,
            account_name=self._account_name(account_id),
        )

    def _already_written(self, account_id: str, charges: list, month: Month) -> dict[str, WriteResult]:
        """Charges found in a MODB of an earlier month of their period, by key."""
        wanted: dict[Month, list[str]] = {}
        for charge in charges:
            for earlier in d.months_from(d.month_of(charge.period_start), month)[:-1]:
                wanted.setdefault(earlier, []).append(charge.key)
        found = {}
        for (year, mon), keys in sorted(wanted.items()):
            db = self.couch.db(modb(account_id, year, mon))
            if not self._exists(db):
                continue
            ids = {d.keyed_id(k, year, mon): k for k in keys if k not in found}
            for doc_id in db.get_many(list(ids)):
                found[ids[doc_id]] = WriteResult(doc_id, db.name, False)
        return found

    def correct(
        self,
        account_id: str,
        entry_id: str,
        description: str,
        at: datetime,
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> WriteResult:
        """Reverse `amount` (default: all) of an entry with a new entry of the opposite type (kind correction).
        The same correction of the same entry is written once."""
        entry = self.entry(account_id, entry_id)
        if entry.kind == d.CARRY:
            raise InputError(entry_id, "kind", "a carry-forward is corrected by `ledger rollover`, not by hand")
        currency = currency or d.info_of(entry.doc).get("currency")
        if not currency:
            raise InputError(entry_id, "currency", "the entry does not say its currency: give it")
        amount = entry.amount if amount is None else amount
        if amount > entry.amount:
            raise InputError(entry_id, "amount", f"{amount} is more than the entry's {entry.amount}")
        write = self.debit if entry.type == "credit" else self.credit
        return write(
            account_id,
            amount,
            currency,
            kind="correction",
            reason="admin_discretion",
            description=description,
            at=at,
            key=f"correction:{entry.db}/{entry_id}:{d.check_amount(amount, currency, entry_id)}",
            metadata={"corrects": {"db": entry.db, "id": entry_id}},
        )

    # -- reads
    def entry(self, account_id: str, entry_id: str) -> Entry:
        """One money document by id (`YYYYMM-...`)."""
        check_account_id_input(account_id, "entry")
        prefix = entry_id[:7]
        if len(prefix) < 7 or not prefix[:6].isdigit() or prefix[6] != "-":
            raise InputError(entry_id, None, "not a monthly entry id (YYYYMM-...)")
        db = self.couch.db(modb(account_id, int(prefix[:4]), int(prefix[4:6])))
        doc = db.get_or_none(entry_id) if self._exists(db) else None
        if doc is None or not d.is_money(doc):
            raise InputError(entry_id, None, f"no money document with this id in {db.name}")
        problem = d.money_problem(doc)
        if problem is not None:
            field, _, text = problem.partition(": ")
            raise InputError(f"{db.name}/{entry_id}", field, f"invalid money document, not counted: {text}")
        return d.entry_of(doc, db.name, account_id, self.dialect)

    def balance(self, account_id: str, at: datetime | None = None, *, defer_carry: bool = False) -> Decimal:
        """The balance in currency units (carry-forward included) now, or as it was at `at`. `defer_carry`: a
        month this process created gets its carry-forward counted but not written yet, for a caller that then
        writes charges into it (`write_charges` writes the carry with them) or calls `settle_carry`."""
        check_account_id_input(account_id, "balance")
        moment = at or self.clock.now()
        _check_at(moment, f"balance of {account_id}")
        month = d.month_of(moment)
        db = self.couch.db(modb(account_id, *month))
        if self._exists(db) or month == d.month_of(self.clock.now()):
            self._open_month(account_id, *month, defer=defer_carry)
            return from_units(self._units(db, None if at is None else to_gregorian(at)))
        previous = d.prev_month(*month)
        if self._exists(self.couch.db(modb(account_id, *previous))):  # the usual case: no `_all_dbs` listing
            earlier = [previous]
        else:
            earlier = [m for m in self.months(account_id) if m < month]
        if not earlier:
            return Decimal(0)
        last, _ = self._open_month(account_id, *earlier[-1])
        return from_units(self.totals.units(last))

    def entries(self, account_id: str, start: datetime, end: datetime, kind: str | None = None) -> list[Entry]:
        """Money entries created in [start, end), oldest first (carry-forwards at their month's first second). Entries
        keep whole seconds, so an `end` within a second includes that second's entries (a listing up to now shows
        what was written a moment ago)."""
        check_account_id_input(account_id, "entries")
        _check_at(start, "entries: start")
        _check_at(end, "entries: end")
        out = []
        span = d.months_from(d.month_of(start), d.month_of(end))
        if len(span) <= 2:  # a period: ask for its (mostly known) databases rather than list every database
            existing = {m for m in span if self._exists(self.couch.db(modb(account_id, *m)))}
        else:
            existing = set(self.months(account_id))
        for year, month in span:
            if (year, month) not in existing:
                continue
            self._open_month(account_id, year, month)
            first = 0 if start <= d.month_start(year, month) else to_gregorian(start)
            entries = self._by_time(account_id, year, month, first, to_gregorian(end) + (1 if end.microsecond else 0))
            out += [e for e in entries if kind is None or e.kind == kind]
        return sorted(out, key=lambda e: (e.at, e.id))

    def charges_since(self, account_id: str, since: datetime, until: datetime) -> list[Entry]:
        """The engine's charges (`CHARGE_KINDS`) created from `since`'s second through `until`'s, oldest first: one
        `by_time` query per existing month between them (on PouchDB Server only where the balance checkpoint's
        latest entry is that recent), creating and writing nothing (the billing engine asks this to tell a billing
        state older than the ledger)."""
        out: list[Entry] = []
        if since > until:
            return out
        for year, month in d.months_from(d.month_of(since), d.month_of(until)):
            db = self.couch.db(modb(account_id, year, month))
            if not self._exists(db) or not self.totals.written_since(db, to_gregorian(since)):
                continue
            try:
                entries = self._by_time(account_id, year, month, to_gregorian(since), to_gregorian(until) + 1)
            except NotFound:  # no design document of ours: we never wrote into this month
                continue
            out += [e for e in entries if e.kind in d.CHARGE_KINDS]
        return sorted(out, key=lambda e: (e.at, e.id))

    def _by_time(self, account_id: str, year: int, month: int, first: int, last: int) -> list[Entry]:
        """The valid money entries of one MODB created in [first, last) (Gregorian seconds; carry-forwards at 0)."""
        db = self.couch.db(modb(account_id, year, month))
        rows = db.view(
            "bookkeeper_ledger",
            "by_time",
            reduce=False,
            include_docs=True,
            startkey=first,
            endkey=last,
            inclusive_end=False,
        )["rows"]
        return [
            d.entry_of(row["doc"], db.name, account_id, self.dialect)
            for row in rows
            if self.dialect == "4.2" or row["doc"].get("pvt_type") == "ledger"
        ]

    def months(self, account_id: str) -> list[Month]:
        """The months of the account's existing MODBs, oldest first. Asks `_all_dbs` for the account's range
        (CouchDB honours it; PouchDB Server lists every database, flattened, so names are parsed)."""
        prefix = account_db(account_id) + "-"
        names = self.couch.json("GET", "/_all_dbs", params={"startkey": prefix, "endkey": prefix + "\ufff0"})
        found = set()
        for name in names:
            parsed = parse_db_name(name)
            if parsed is not None and parsed.month_of is not None and parsed.account_id == account_id:
                self._prepared.see(modb(account_id, *parsed.month_of))
                found.add(parsed.month_of)
        return sorted(found)

    # -- carry-forward
    def ensure_rollover(self, account_id: str, year: int, month: int) -> None:
        """Make (year, month) carry the previous month's closing total (creating the MODB and any missing month
        before it), correct it if it is stale, and correct every later month the same way. Idempotent. Nothing
        for a month that ended before the account was created."""
        check_account_id_input(account_id, "rollover")
        created = self._creation(account_id)
        if created is not None and d.month_start(*d.next_month(year, month)) <= created:
            return
        self.check_date(account_id, max(d.month_start(year, month), created or d.month_start(year, month)), "rollover")
        _, opened = self._open_month(account_id, year, month)
        self._carry(account_id, year, month, correct=True)
        self._after_write(account_id, year, month, opened, force=True)

    def open_ahead(self, account_id: str, year: int, month: int) -> None:
        """Create a coming month's MODB with its design documents, but no carry-forward (the month before is not
        closed yet), as KAZOO's `kt_modb_creation` does: the month's first writes then only add the carry."""
        check_account_id_input(account_id, "open ahead")
        self._create(self.couch.db(modb(account_id, year, month)))

    def check_date(self, account_id: str, moment, where: str) -> None:
        """Refuse a date that a person or a document gives for the account (InputError) unless it is from the
        account's creation (its account doc's `pvt_created`) and within `horizon` months around now: a far date
        would create a monthly DB for every month in between."""
        _check_at(moment, where)
        now = self.clock.now()
        back, ahead = self.horizon
        first = d.month_start(*d.add_months(d.month_of(now), -back))
        end = d.month_start(*d.add_months(d.month_of(now), ahead + 1))
        created = self._creation(account_id)
        earliest = max(first, created) if created is not None else first
        if not earliest <= moment < end:
            since = "the account's creation" if earliest == created else f"{back} months back"
            raise InputError(
                where,
                "at",
                f"{moment.isoformat()} is out of bounds: from {earliest.isoformat()} "
                f"({since}) to before {end.isoformat()} ({ahead} month(s) ahead)",
            )

    def _creation(self, account_id: str) -> datetime | None:
        """When the account was created (its account doc's `pvt_created`), None if its DB does not say."""
        if account_id not in self._created:
            self._read_account_doc(account_id)
        return self._created[account_id]

    def _read_account_doc(self, account_id: str) -> None:
        """Learn, once per process and in one read, what the ledger takes from the account's own document (unless
        `know_account` told it already)."""
        try:
            doc = self.couch.db(account_db(account_id)).get_or_none(account_id) or {}
        except NotFound:
            doc = {}
        self.know_account(account_id, doc)

    def know_account(self, account_id: str, doc: dict) -> None:
        """Take what the ledger needs from the account's document, for a caller that holds it (the engine: the
        `accounts` database's copy, which KAZOO saves with the account's own): its creation (`pvt_created`) and
        its `name`."""
        created, name = doc.get("pvt_created"), doc.get("name")
        if isinstance(created, int) and not isinstance(created, bool) and 0 < created < d.LAST_SECOND:
            self._created[account_id] = from_gregorian(created)
        else:
            self._created[account_id] = None
        self._names[account_id] = name if isinstance(name, str) and name else None

    def _create(self, db: Database) -> bool:
        """The MODB and its design documents, once per process; True if the database was created now."""
        prepared = self._prepared
        if prepared.designed(db.name):
            return False
        created = not prepared.seen(db.name) and db.create()
        prepared.see(db.name)
        installed = designdocs.install_kind(db, "modb")
        prepared.design(db.name, created)
        if created:
            info = db.info()
            if info.get("doc_count") == len(installed) and not info.get("doc_del_count"):  # nobody else wrote yet
                self.totals.created(db, info["update_seq"])
        return created

    def _open_month(self, account_id: str, year: int, month: int, defer: bool = False) -> tuple[Database, bool]:
        """The MODB, created if missing, with the modb design docs and a carry-forward; (db, created now).
        `defer`: a month this process created gets its carry-forward owed (counted by `_units`, written by
        `_pay`) rather than written now; without it, an owed carry-forward is written now."""
        db = self.couch.db(modb(account_id, year, month))
        prepared = self._prepared
        if prepared.ready(db.name):
            if not defer:
                self._pay(db)
            return db, False
        created = self._create(db)
        if defer and prepared.fresh(db.name):
            previous = d.prev_month(year, month)
            carry = d.carry_doc(
                self.dialect,
                d.carry_id(self.dialect, year, month),
                account_id,
                year,
                month,
                self._closing(account_id, *previous),
                f"{previous[0]:04d}{previous[1]:02d}",
                self.clock.now(),
                self._account_name(account_id),
            )
            prepared.owe(db.name, carry)
        else:
            self._carry(account_id, year, month, correct=False, fresh=prepared.fresh(db.name))
        prepared.make_ready(db.name)
        return db, created

    def _units(self, db: Database, until: int | None = None) -> int:
        """`totals.units` of a ready month, its owed carry-forward included. If someone else wrote into the month
        since this process created it (their carry-forward may be among it), the owed one is written now (409:
        theirs stands) and the month read again, so a carry-forward is never counted twice."""
        if self._prepared.owed(db.name) is None:
            return self.totals.units(db, until)
        with self._prepared.settling(db.name) as carry:  # not while it is written: the tail may hold it or not
            if carry is not None:
                units = self.totals.units(db, until)
                if self.totals.untouched(db):
                    return units + d.signed_units(carry, self.dialect)
                self._write_owed(db, carry, [])
        return self.totals.units(db, until)

    def _pay(self, db: Database, docs: Sequence[dict] = ()) -> dict[str, dict]:
        """Write `docs` in one `_bulk_docs`, with the month's owed carry-forward if there is one; the rows of
        `docs` (no request when there is nothing to write)."""
        if self._prepared.owed(db.name) is not None:
            with self._prepared.settling(db.name) as carry:
                if carry is not None:
                    return self._write_owed(db, carry, docs)
        return db.bulk_docs(list(docs)) if docs else {}

    def _write_owed(self, db: Database, carry: dict, docs: Sequence[dict]) -> dict[str, dict]:
        """Under the month's lock: its owed carry-forward and `docs` in one `_bulk_docs` (a 409 on the carry:
        someone wrote it first); the rows of `docs`. A failed request leaves it owed."""
        rows = db.bulk_docs([carry, *docs])
        row = rows.pop(carry["_id"], {})
        if not row.get("ok") and row.get("error") != "conflict":
            raise LedgerError(f"{db.name}/{carry['_id']}: {row.get('error')}: {row.get('reason')}")
        self._prepared.paid(db.name)
        return rows

    def settle_carry(self, account_id: str, at: datetime) -> None:
        """Write the owed carry-forward of `at`'s month, if any (after an evaluation that wrote no charge)."""
        self._pay(self.couch.db(modb(account_id, *d.month_of(at))))

    def _carry(self, account_id: str, year: int, month: int, correct: bool, fresh: bool = False) -> None:
        """Write the carry-forward if it is missing; with `correct`, also restate it if it is stale, as KAZOO's
        `fix_rollovers` does: the carry-forward document is rewritten to the previous month's full closing total
        (and a correction document `<prefix><n>` left by an older bookkeeper to 0), so KAZOO's fix and ours
        agree whichever runs. `fresh`: this process created the MODB, so the carry-forward is written without
        looking for it first (a 409 says someone else wrote it meanwhile)."""
        db = self.couch.db(modb(account_id, year, month))
        base = d.carry_id(self.dialect, year, month)
        previous = d.prev_month(year, month)
        label = f"{previous[0]:04d}{previous[1]:02d}"
        if not correct:
            if not fresh and db.get_or_none(base) is not None:
                return
            target = self._closing(account_id, *previous)
            with contextlib.suppress(Conflict):  # written before (by us, another worker or KAZOO)
                db.put(
                    d.carry_doc(
                        self.dialect,
                        base,
                        account_id,
                        year,
                        month,
                        target,
                        label,
                        self.clock.now(),
                        self._account_name(account_id),
                    )
                )
            return

        def attempt() -> None:
            target = self._closing(account_id, *previous)
            docs = self._carry_docs(db, year, month)
            now = self.clock.now()
            if base not in docs:
                changed = [
                    d.carry_doc(
                        self.dialect, base, account_id, year, month, target, label, now, self._account_name(account_id)
                    )
                ]
            else:
                changed = [
                    d.restate_carry(doc, target if doc_id == base else 0, now)
                    for doc_id, doc in docs.items()
                    if d.signed_units(doc, self.dialect) != (target if doc_id == base else 0)
                ]
            rows = db.bulk_docs(changed)
            bad = [row for row in rows.values() if not row.get("ok") and row.get("error") != "conflict"]
            if bad:
                raise LedgerError(
                    f"{db.name}: the carry-forward was refused: {bad[0].get('error')}: {bad[0].get('reason')}"
                )
            if rows and not all(row.get("ok") for row in rows.values()):
                raise Conflict(409, "conflict", "", db.name)

        retry_conflicts(f"{db.name}/{base}", attempt)

    def _carry_docs(self, db: Database, year: int, month: int) -> dict[str, dict]:
        prefix = d.adjustment_prefix(self.dialect, year, month)
        rows = db.all_docs(startkey=prefix, endkey=prefix + "\ufff0", include_docs=True)
        docs = {r["id"]: r["doc"] for r in rows if r.get("doc")}
        base = db.get_or_none(d.carry_id(self.dialect, year, month))
        if base is not None:
            docs[base["_id"]] = base
        return {k: v for k, v in docs.items() if d.is_carry(v)}

    def _closing(self, account_id: str, year: int, month: int) -> int:
        """The closing total of (year, month) in units: 0 before the account's first month; a missing month
        after it is created (carrying forward) so that months stay contiguous."""
        db = self.couch.db(modb(account_id, year, month))
        if not self._exists(db) and not any(m < (year, month) for m in self.months(account_id)):
            return 0
        self._open_month(account_id, year, month)
        return self.totals.units(db)

    def _after_write(self, account_id: str, year: int, month: int, created: bool, force: bool = False) -> None:
        """After a write into a month that later months may already carry forward, correct them in order."""
        if not force and d.month_of(self.clock.now() + SKEW) <= (year, month):
            return
        later = [m for m in self.months(account_id) if m > (year, month)] if created else []
        cur = d.next_month(year, month)
        while (later and cur <= later[-1]) or self._exists(self.couch.db(modb(account_id, *cur))):
            self._open_month(account_id, *cur)
            self._carry(account_id, *cur, correct=True)
            cur = d.next_month(*cur)

    def _account_name(self, account_id: str) -> str | None:
        """The account's `name` from its account document (as `kz_ledger:set_account` reads it), once per process;
        None when there is no such document."""
        if self.dialect != "4.3":
            return None
        if account_id not in self._names:
            self._read_account_doc(account_id)
        return self._names[account_id]

    def _exists(self, db: Database) -> bool:
        if self._prepared.seen(db.name):
            return True
        if db.exists():
            self._prepared.see(db.name)
            return True
        return False

    # -- the check
    def verify(self, account_id: str) -> list[str]:
        """Recount every month from its documents, compare with KAZOO's balance view and with the fast read
        path, and check every carry-forward against the previous month's closing total. [] if sound."""
        check_account_id_input(account_id, "verify")
        problems: list[str] = []
        previous: tuple[Month, int] | None = None
        charged: list[tuple[str, dict]] = []  # (month, document) of every charge but VAT
        for year, month in self.months(account_id):
            db = self.couch.db(modb(account_id, year, month))
            designdocs.install_kind(db, "modb")  # ours kept current; KAZOO's only where missing
            self._pay(db)  # what verify checks is what is stored
            label = f"{year:04d}{month:02d}"
            if previous is not None and (year, month) != d.next_month(*previous[0]):
                problems.append(f"{label}: months missing since {previous[0][0]:04d}{previous[0][1]:02d}")
            docs = [r["doc"] for r in db.all_docs(include_docs=True) if r.get("doc") and d.is_money(r["doc"])]
            if not docs and (year, month) > d.month_of(self.clock.now()):
                continue  # opened ahead of its month: nothing to check yet
            counted, carried, has_carry = 0, 0, False
            for doc in docs:
                problem = d.money_problem(doc)
                if problem is not None:
                    self.totals.check(db.name, doc)
                    problems.append(f"{label}: {doc['_id']}: invalid money document, not counted: {problem}")
                    continue
                units = d.signed_units(doc, self.dialect)
                counted += units
                if d.info_of(doc).get("kind") in TWICE_KINDS:
                    charged.append((label, doc))
                if d.is_carry(doc) and (self.dialect == "4.2" or doc.get("pvt_type") == "ledger"):
                    carried, has_carry = carried + units, True
                if not doc["_id"].startswith(modb_prefix(year, month)) and doc["_id"] != "monthly_rollup":
                    problems.append(f"{label}: {doc['_id']}: id does not start with {modb_prefix(year, month)}")
            try:
                kazoo = self._kazoo_view_units(db)
            except NotFound:
                problems.append(
                    f"{label}: KAZOO's balance view {'/'.join(KAZOO_BALANCE_VIEW[self.dialect])} is "
                    f"missing (the design document is KAZOO's: run KAZOO's view refresh)"
                )
            except CouchError as exc:
                problems.append(f"{label}: KAZOO's balance view fails ({exc.reason or exc.error})")
            else:
                if kazoo != counted:
                    problems.append(
                        f"{label}: KAZOO's balance view says {money(kazoo)}, the documents add up to {money(counted)}"
                    )
            if (self.totals.checkpoint(db) or {}).get("untrusted"):
                problems.append(
                    f"{label}: the balance checkpoint does not match its MAC (not written by this "
                    f"bookkeeper); checkpoint rebuilt"
                )
                self.totals.rebuild(db)
            self.totals.forget(db)  # check the stored checkpoint, not what this process remembers
            fast = self.totals.units(db)
            if fast != counted:
                problems.append(
                    f"{label}: the balance checkpoint said {money(fast)}, the documents add up to "
                    f"{money(counted)}; checkpoint rebuilt"
                )
                self.totals.rebuild(db)
            if not has_carry:
                problems.append(f"{label}: no carry-forward document")
            elif previous is not None and carried != previous[1]:
                problems.append(
                    f"{label}: carry-forward is {money(carried)} but {previous[0][0]:04d}"
                    f"{previous[0][1]:02d} closes at {money(previous[1])}"
                )
            previous = ((year, month), counted)
        return problems + _charged_twice(charged)

    def _kazoo_view_units(self, db: Database) -> int:
        """The balance as KAZOO reads it: 4.3 all rows of `ledgers/total_by_source` (group_level 1), 4.2
        `transactions/credit_remaining` (NotFound: KAZOO's design document lacks the view)."""
        ddoc, view = KAZOO_BALANCE_VIEW[self.dialect]
        rows = db.view(ddoc, view, reduce=True, **({"group_level": 1} if self.dialect == "4.3" else {}))["rows"]
        total = sum(r["value"] for r in rows)
        if not isinstance(total, (int, float)) or isinstance(total, bool):
            raise CouchError(0, "not_a_number", f"it sums to {total!r}")
        return int(total)


def _identity(doc: dict, dialect: str) -> tuple:
    """What makes two keyed entries the same entry: signed amount, currency, reason. A gateway's payment is the
    same payment whichever path books it (a top-up, then the gateway's settlement notice): its gateway stands
    for the reason."""
    info = d.info_of(doc)
    reason = (doc.get("metadata") or {}).get("gateway") or info.get("reason") or doc.get("pvt_reason")
    return d.signed_units(doc, dialect), info.get("currency"), reason


def doc_type(doc: dict, dialect: str) -> str:
    return "debit" if d.signed_units(doc, dialect) < 0 else "credit"


def _charged_twice(charged: list[tuple[str, dict]]) -> list[str]:
    """Items charged twice for one period or day, as a lost or older billing state used to charge them: a second
    MRC, or an MRC after a proration of the same item and period; two prorations from the same level (the same
    change number); activations of more units than the highest level activated; a day's fees above the day's
    highest charged total."""
    groups: dict[tuple, list[tuple]] = {}
    for label, doc in charged:
        info = d.info_of(doc)
        kind, key = info["kind"], str(info.get("key", ""))
        family = "monthly" if kind in ("mrc", "prorate", "prorate_credit") else kind
        if family != "monthly" and key.count("/") != 5:  # not an engine's key: <account>/<day>/.../<level>
            continue
        on = key.split("/")[1] if family == "daily" else str((info.get("period") or {}).get("start", ""))[:10]
        groups.setdefault((family, str(info.get("category")), str(info.get("item")), on), []).append(
            (doc["pvt_created"], doc["_id"], kind, label, key.rsplit("/", 1)[-1], info.get("quantity"), doc)
        )
    out = []
    for (family, category, item, on), rows in sorted(groups.items()):
        rows.sort(key=lambda row: row[:2])
        if family == "monthly":
            mrcs = [i for i, row in enumerate(rows) if row[2] == "mrc"]
            changes = [row[4].split("-", 1)[0] for row in rows if row[2] != "mrc" and "-" in row[4]]
            twice = (
                len(mrcs) > 1
                or bool(mrcs and any(row[2] == "prorate" for row in rows[: mrcs[-1]]))
                or len(changes) != len(set(changes))
            )
        elif family == "activation":
            twice = sum(_whole(row[5]) for row in rows) > max(_whole(row[4]) for row in rows)
        else:  # daily: each charge raises the day's total to its level
            total = sum(from_units(int(row[6][d.amount_field(row[6])])) for row in rows)
            twice = total > max(_level(row[4]) for row in rows)
        if twice:
            what = f"the day {on}" if family == "daily" else f"the period from {on}"
            out.append(
                f"{rows[-1][3]}: {category}/{item} charged twice for {what}: "
                + ", ".join(f"{row[1]} ({row[2]})" for row in rows)
            )
    return out


def _whole(value) -> int:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else 0


def _level(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        return Decimal(0)


def horizon(config: Config) -> tuple[int, int]:
    """The deployment's date horizon (months back, months ahead) for `Ledger(horizon=...)`."""
    return config.date_horizon_back, config.date_horizon_ahead


def money(units: int) -> str:
    return f"{from_units(units):f}"


def check_account_id_input(account_id, where: str) -> str:
    try:
        return check_account_id(account_id)
    except ValueError as exc:
        raise InputError(where, "account", str(exc)) from None


def _check_at(moment, where: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(where, "at", f"an aware datetime is required, got {moment!r}")
