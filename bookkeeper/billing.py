"""Evaluating accounts, and the engine the daemon and the simulator drive.

Accounts are evaluated in batches (of one, or up to BATCH): bulk reads of their billing states, account docs and
services docs (with their ancestors', which name the billing reseller); per account, on a small thread pool, the
reads only it needs (limits, the recount, the balance) and the pure charging rules; then every billing state in
one bulk write (write-ahead: the evaluation's charges as `pending`), the charges into each account's MODB
(deterministic ids), the services docs in one bulk write, and blocking. A crash anywhere replays safely: charges
already written answer 409, and a state only advances from the revision read (a conflict means another evaluator
moved it first: that account is read and evaluated again). One account's error fails that account only.

Single evaluations asked for by concurrent threads (the daemon's drain threads) are coalesced into batches by
`Batcher`, so a steady flow of changes costs a few bulk requests per batch instead of per account.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import charging, designdocs, plans
from .accounts import CONFIG_DOC, LIMITS_DOC, Account, Directory, UnknownAccount, master_account_id, written_by_us
from .agents import Agents
from .clock import Clock, day_start, period_containing
from .config import Config
from .couch import CONFLICT_ATTEMPTS, Conflict, Couch, CouchError, conflict_pause
from .dbnames import ACCOUNTS_DB, SERVICES_DB, is_account_id, parse_db_name, to_gregorian
from .errors import BookkeeperError, InputError
from .ledger import Ledger, horizon
from .ledger import documents as ledger_docs
from .settings import BillingSettings

log = logging.getLogger(__name__)
STATE_PREFIX = "billing_state:"
BATCH = 200
THREADS = 32  # per-account requests in flight at once
OPEN_AHEAD = timedelta(days=2)  # how long before a month starts its MODBs are created
_POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="evaluate")


class EvaluationFailed(BookkeeperError):
    """Some accounts could not be evaluated; `evaluations` holds the others, which were."""

    def __init__(self, failures: dict[str, Exception], evaluations: list):
        self.failures, self.evaluations = failures, evaluations
        super().__init__("; ".join(f"{a}: {e}" for a, e in failures.items()))


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation decided and did."""

    account_id: str
    reseller_id: str
    currency: str
    decision: charging.Decision
    quantities: dict
    written: tuple[str, ...] = ()
    invoices: tuple[plans.Invoice, ...] = ()  # the account's invoices as priced by this evaluation


@dataclass(frozen=True)
class Recount:
    """What an evaluation reads again rather than trusting its last read: the quantities (the account DB's views),
    with them the `limits` doc and the object plans (`service.plans`; read again anyway when the last read found
    some, since a changed document may have dropped its own)."""

    quantities: bool = False
    limits: bool = False
    object_plans: bool = False


KEEP = Recount()  # trust the last read


@dataclass
class _Work:
    """One account on its way through a batch."""

    account: Account
    state_doc: dict | None
    evaluation: Evaluation | None = None
    cascade: dict = field(default_factory=dict)
    state_write: dict | None = None  # the billing state to save (None: unchanged)
    rev: str | None = None  # the saved state's revision
    moved: bool = False  # another evaluator saved the state first
    error: Exception | None = None
    charged: list = field(default_factory=list)  # the charges this evaluation wrote (not replays)
    balance: Decimal | None = None  # the balance the evaluation read at `now` (None: a catch-up's, in the past)

    @property
    def evaluated(self) -> Evaluation:
        """The evaluation, once `_decide` made it without an error (every later stage has one)."""
        if self.evaluation is None:
            raise RuntimeError(f"account {self.account.id}: not evaluated")
        return self.evaluation


def priced_items(invoices: list[plans.Invoice]) -> list[charging.PricedItem]:
    """The plans engine's invoice lines as the charging rules take them (all bookkeeper groups together)."""
    items = []
    for invoice in invoices:
        for line in invoice.items:
            items.append(
                charging.PricedItem(
                    category=line.category,
                    item=line.item,
                    quantity=int(line.quantity),
                    billable=int(line.billable),
                    rate=line.rate,
                    total=line.total,
                    activation_charge=line.activation_charge,
                    prorate_additions=line.prorate_additions,
                    prorate_removals=line.prorate_removals,
                    plan_key=line.key,
                )
            )
    return items


class Batcher:
    """Coalesces evaluations asked for one at a time by concurrent threads: while a batch runs, the requests that
    arrive wait and form the next one (one per set of arguments), run by one thread that ends when idle."""

    def __init__(self, run: Callable[[tuple, list[str]], dict]):
        self._run = run
        self._cond = threading.Condition()
        self._waiting: dict[tuple, dict[str, list[Future]]] = {}
        self._thread: threading.Thread | None = None

    def submit(self, args: tuple, account_id: str):
        """The result of `run(args, [..., account_id, ...])` for this account (an Evaluation, an exception, or
        None for an unknown account)."""
        if threading.current_thread() is self._thread:  # asked from inside a batch (a callback): no waiting
            return self._run(args, [account_id]).get(account_id)
        future: Future = Future()
        with self._cond:
            self._waiting.setdefault(args, {}).setdefault(account_id, []).append(future)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="evaluation-batches", daemon=True)
                self._thread.start()
        return future.result()

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._waiting:
                    self._thread = None
                    return
                args = next(iter(self._waiting))
                batch = self._waiting.pop(args)
            try:
                results = self._run(args, list(batch))
            except Exception as exc:  # the whole batch failed (e.g. the server is down)
                results = dict.fromkeys(batch, exc)
            for account_id, futures in batch.items():
                for future in futures:
                    future.set_result(results.get(account_id))


class BillingEngine:
    """Evaluates accounts: on changes (feeds), on ticks (scheduler), on credits, and for `billing run`."""

    def __init__(
        self,
        couch: Couch,
        config: Config,
        clock: Clock,
        *,
        ledger: Ledger | None = None,
        directory: Directory | None = None,
        metrics=None,
        after_charges: Callable[[Evaluation], None] | None = None,
        after_tick: Callable[[datetime, Callable[[str], bool]], object] | None = None,
    ):
        self.couch, self.config, self.clock = couch, config, clock
        self.dialect = config.dialect
        self.directory = directory or Directory(couch, master_account_id(couch, config.master_account), self.dialect)
        self.ledger = ledger or Ledger(
            couch, dialect=self.dialect, clock=clock, horizon=horizon(config), currency_of=self.directory.currency_of
        )
        self.holds = self.directory.holds
        self.metrics = metrics
        if metrics is not None:
            self.holds.metrics = metrics
            metrics.gauge(
                "accounts_held",
                "Accounts not billed because a document they depend on is invalid.",
                lambda: len(self.holds.held()),
            )
        self.agents = Agents(couch, self.ledger, self.directory)
        self.after_charges = after_charges
        self.after_tick = after_tick
        self.state_db = couch.db(config.bookkeeper_db)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._written_by_me: dict[str, str] = {}  # account -> state _rev whose pending charges this process wrote
        self._trusted: dict[str, str] = {}  # account -> state _rev this process saved or found as new as the ledger
        self._batcher = Batcher(lambda args, ids: self._evaluate_locked(ids, *args))

    def bills(self, bookkeeper: Mapping[str, str]) -> bool:
        """Whether we bill the plans of this KAZOO bookkeeper (a merged plan's `bookkeeper`): those of our type
        (`amqp_bookkeeper_type`) and of `default` (KAZOO asks no bookkeeper: the ledger is all the billing)."""
        return bookkeeper.get("type") in (self.config.amqp_bookkeeper_type, plans.DEFAULT_BOOKKEEPER["type"])

    def away(self, account_id: str) -> bool:
        """Whether the account's latest evaluation (by any worker) found it billed by another bookkeeper."""
        doc = self.state_db.get_or_none(STATE_PREFIX + account_id) or {}
        return bool((doc.get("state") or {}).get("away"))

    # -- evaluating accounts
    def evaluate(
        self,
        account_id: str,
        now: datetime | None = None,
        dry_run: bool = False,
        recount: bool = True,
        limits: bool = True,
        object_plans: bool = True,
    ) -> Evaluation:
        """Evaluate one account at `now` (default: the clock when its batch starts) and, unless `dry_run`, write
        the outcome. Concurrent callers are evaluated together in one batch.

        `recount`: count quantities from the account DB (after a change) and, with `limits`, read its `limits`
        doc again; else trust what the last recount saw (the services doc's quantities, the billing state's
        postpay terms and object plans). The feed passes `limits` False when the `limits` doc is not among the
        changes, and `object_plans` False when no changed document names plans of its own (`service.plans`):
        then the object plans are read again only if the last read found some (one may have been removed)."""
        what = Recount(recount, recount and limits, recount and object_plans)
        found = self._batcher.submit((now, dry_run, what), account_id)
        if found is None:
            raise UnknownAccount(f"{account_id}: no such account in {ACCOUNTS_DB}")
        if isinstance(found, Exception):
            raise found
        return found

    def evaluate_batches(
        self, account_ids: list[str], now: datetime | None = None, dry_run: bool = False, recount: bool = False
    ) -> Iterator[dict[str, Evaluation | Exception]]:
        """Evaluate accounts (unknown ones are skipped) BATCH at a time, yielding each batch's results ({account:
        Evaluation or the exception that failed it}) when it is done: a run over every account holds one batch."""
        now = now or self.clock.now()
        ids = list(dict.fromkeys(account_ids))
        for start in range(0, len(ids), BATCH):
            yield self._evaluate_locked(ids[start : start + BATCH], now, dry_run, Recount(recount, recount, recount))

    def evaluate_many(
        self, account_ids: list[str], now: datetime | None = None, dry_run: bool = False, recount: bool = False
    ) -> list[Evaluation]:
        """`evaluate_batches`, collected; EvaluationFailed after all the others are done if some failed."""
        evaluations, failures = [], {}
        for results in self.evaluate_batches(account_ids, now, dry_run, recount):
            for account_id, result in results.items():
                if isinstance(result, Exception):
                    failures[account_id] = result
                else:
                    evaluations.append(result)
        if failures:
            raise EvaluationFailed(failures, evaluations)
        return evaluations

    def _evaluate_locked(self, ids: list[str], now: datetime | None, dry_run: bool, recount: Recount) -> dict:
        """A batch, holding the accounts' locks (threads of this process take turns on an account; other
        processes meet a conflict on its billing state)."""
        locks = [self._lock_of(a) for a in sorted(ids)]
        for lock in locks:
            lock.acquire()
        try:
            return self._evaluate_batch(ids, now or self.clock.now(), dry_run, recount)
        finally:
            for lock in locks:
                lock.release()

    def _lock_of(self, account_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def _evaluate_batch(
        self,
        ids: list[str],
        now: datetime,
        dry_run: bool,
        recount: Recount,
        attempt: int = 1,
        catch_up: bool = False,
        stale: dict[str, list] | None = None,
    ) -> dict[str, Evaluation | Exception]:
        """Evaluate the known accounts among `ids`; {account: Evaluation or the exception that failed it}.
        `recount`: what is read again (`Recount`). `catch_up`: `now` is the last moment of a period the bookkeeper
        missed (see `_missed_periods`).
        `stale`: {account: the charges its billing state has not seen} (`_stale`; found here when not given)."""
        states = self.state_db.get_many([STATE_PREFIX + a for a in ids])
        results: dict[str, Evaluation | Exception] = {}
        if stale is None:
            stale = self._stale(ids, states, now, results)
        missed = {} if dry_run or catch_up else self._missed_periods([a for a in ids if a not in results], states, now)
        for account_id, ends in missed.items():  # the periods it missed first, in order, each to its last moment
            for end in ends:
                failed = self._evaluate_batch([account_id], end, dry_run, KEEP, catch_up=True, stale=stale).get(
                    account_id
                )
                if isinstance(failed, Exception):
                    results[account_id] = failed
                    break
        if missed:
            states.update(self.state_db.get_many([STATE_PREFIX + a for a in missed]))
        accounts = [a for a in self.directory.accounts(ids) if a.id not in results]
        self.directory.refresh([a for a in accounts if a.problem is None])
        for account in accounts:
            self.ledger.know_account(account.id, account.doc)
        works = [_Work(a, states.get(STATE_PREFIX + a.id)) for a in accounts]
        _each(works, lambda w: self._decide(w, now, dry_run, recount, catch_up, stale.get(w.account.id)))
        if not dry_run:
            self._write(works, now)
        for w in works:
            if not w.moved:
                results[w.account.id] = w.error or w.evaluated
        moved = [w.account.id for w in works if w.moved]
        if moved and attempt < CONFLICT_ATTEMPTS:  # the one read-modify-write policy (couch.retry_conflicts)
            log.info("billing state of %s changed under us; evaluating again", ", ".join(moved))
            conflict_pause(attempt)
            again = stale if catch_up else None  # a catch-up keeps what its evaluation found; others look again
            results.update(self._evaluate_batch(moved, now, dry_run, recount, attempt + 1, catch_up, again))
        for account_id in moved if attempt >= CONFLICT_ATTEMPTS else ():
            reason = f"changed by another writer on each of {CONFLICT_ATTEMPTS} attempts"
            results[account_id] = Conflict(409, "conflict", reason, f"{self.state_db.name}/{STATE_PREFIX}{account_id}")
        for account_id, result in results.items() if attempt == 1 else ():
            if held(result):
                self.holds.hold(account_id, str(result) or repr(result))
            elif isinstance(result, Exception) and not dry_run:
                log.warning("evaluation of account %s failed: %s (tried again later)", account_id, result)
            elif not isinstance(result, Exception) and not dry_run:
                self.holds.release(account_id)
        return {a: results[a] for a in ids if a in results}

    def _stale(self, ids: list[str], states: dict, now: datetime, failures: dict) -> dict[str, list]:
        """{account: the charges its billing state has not seen} for the accounts whose state is older than their
        ledger (a backup restored, a state write lost after its charges were written). A state has seen the charges
        of its evaluation's second (`seen`); any other charge created from that second on (from its period's end,
        when that period has nothing left to catch up) was written by a later state. One `by_time` query per month
        from there to `now` (so one, but for a period the daemon missed days of); none for a state revision this
        process saved or checked itself. A failed query fails its account (`failures`)."""
        checks = [
            (a, doc) for a in ids if (doc := states.get(STATE_PREFIX + a)) and self._trusted.get(a) != doc["_rev"]
        ]

        def unseen(check: tuple[str, dict]) -> list | Exception:
            account_id, doc = check
            state = charging.BillingState.from_doc(doc["state"])
            if state.evaluated_at is None:
                return []
            since = state.evaluated_at
            if state.period.end <= now and not (state.last_daily and (state.last_day or 0) < state.period.days):
                since = max(since, state.period.end)  # its period is done (nothing to catch up): only later ones count
            seen = set(
                doc["seen"] if "seen" in doc else [c["key"] for c in (doc.get("pending") or {}).get("charges", [])]
            )
            try:
                return [e for e in self.ledger.charges_since(account_id, since, now) if e.key not in seen]
            except CouchError as exc:
                return exc

        stale = {}
        found_all = list(_POOL.map(unseen, checks)) if len(checks) > 1 else [unseen(c) for c in checks]
        for (account_id, doc), found in zip(checks, found_all, strict=True):
            if isinstance(found, Exception):
                failures[account_id] = found
            elif found:
                stale[account_id] = found
            else:
                self._trusted[account_id] = doc["_rev"]
        return stale

    def _missed_periods(self, ids: list[str], states: dict, now: datetime) -> dict[str, list[datetime]]:
        """{account: the last moments of the periods it was not evaluated through} for the accounts whose state is
        of a period before `now`'s (the daemon was down, or this is a period start), where their reseller charges
        missed days (`charge_missed_days`); an account whose documents are invalid is left to its evaluation."""
        stale = [a for a in ids if (doc := states.get(STATE_PREFIX + a)) and _period_ended(doc, now)]
        if not stale:
            return {}
        accounts = [a for a in self.directory.accounts(stale) if a.problem is None]
        self.directory.refresh(accounts)
        out = {}
        for account in accounts:
            try:
                billing_settings = self.directory.reseller_settings(account.reseller)
            except InputError:
                continue
            state = charging.BillingState.from_doc(states[STATE_PREFIX + account.id]["state"])
            ends = charging.missed_period_ends(state, now, billing_settings)
            if ends:
                out[account.id] = ends
        return out

    def _decide(
        self,
        work: _Work,
        now: datetime,
        dry_run: bool,
        recount: Recount,
        catch_up: bool = False,
        unseen: list | None = None,
    ) -> None:
        """Read what only this account needs and apply the charging rules (no write but a settlement). `unseen`:
        the charges a billing state older than the ledger has not seen (it is rebuilt from the ledger)."""
        account, state_doc, directory = work.account, work.state_doc, self.directory
        if account.problem is not None:
            raise account.problem
        if (
            state_doc
            and state_doc.get("pending")
            and not dry_run
            and self._written_by_me.get(account.id) != state_doc["_rev"]
        ):
            self._settle(account, state_doc["pending"])
        billing_settings = directory.reseller_settings(account.reseller)
        object_plans = (state_doc or {}).get("object_plans")
        if object_plans is None or (recount.quantities and (recount.object_plans or object_plans)):
            object_plans = directory.object_plans(account.id)
        assigned = directory.merged_plans(account, account.reseller, object_plans)
        merged = [m for m in assigned if self.bills(m.bookkeeper)]  # another bookkeeper's plans are not ours
        quantities, postpay = directory.stored_quantities(account), (state_doc or {}).get("postpay")
        if recount.quantities or quantities is None:
            quantities = directory.quantities(
                account.id, plans.priced_counters(billing_settings.billable_counters, merged)
            )
            quantities = {**quantities, **directory.kazoo42_quantities(account, merged, now)}
        if recount.limits or postpay is None:
            allowed, max_postpay = directory.load_limits(account).postpay
            postpay = {"allowed": allowed, "max": str(max_postpay)}
        work.cascade = cascade = self._cascade(account, merged)
        priced = plans.apply_manual(quantities, directory.manual_quantities(account))  # manual ones win

        def reprice(cancelled: frozenset[str]) -> list[charging.PricedItem]:
            kept = {c: items for c, items in priced.items() if c not in cancelled}
            return priced_items([plans.price(m, kept, cascade) for m in merged])

        invoices = tuple(plans.price(m, priced, cascade) for m in merged)

        balance = self.ledger.balance(account.id, now, defer_carry=not dry_run)
        work.balance = None if catch_up else balance
        facts = charging.AccountFacts(
            balance=balance,
            postpay_allowed=postpay["allowed"],
            max_postpay=Decimal(postpay["max"]),
            trial_expires=account.trial_expires,
            admin_blocked=not account.enabled and not account.blocked_by_us,
            blocked_by_us=account.blocked_by_us,
            elsewhere=bool(assigned) and not merged,
        )
        items = priced_items(list(invoices))
        state: charging.BillingState | None
        if state_doc and not unseen:
            state = charging.BillingState.from_doc(state_doc["state"])
        else:
            daily = {
                i.key: charging.DailyLast(i.quantity, i.rate, i.total)
                for i in items
                if billing_settings.is_daily(i.category)
            }
            state = self._rebuilt(account.id, billing_settings, now, state_doc, unseen or [], daily, dry_run)
        decision = charging.evaluate(billing_settings, account.id, state, items, facts, now, reprice, catch_up=catch_up)
        work.evaluation = Evaluation(
            account.id, account.reseller, billing_settings.currency, decision, quantities, invoices=invoices
        )
        pending: dict[str, Any] | None = None
        if decision.charges or decision.cancel_categories:
            pending = {
                "at": now.isoformat(),
                "currency": billing_settings.currency,
                "charges": [c.to_doc() for c in decision.charges],
            }
            if decision.cancel_categories:  # written ahead too: the state's levels assume the cancellation
                if account.limits is None:
                    directory.load_limits(account)
                pending["cancel"] = {
                    "categories": sorted(decision.cancel_categories),
                    "limits_rev": (account.limits or {}).get("_rev"),
                }
        second = to_gregorian(now)
        earlier = (state_doc or {}).get("seen") or [] if _evaluated_second(state_doc) == second else []
        seen = [*earlier, *(c.key for c in decision.charges)]  # the charges of this second the state accounts for
        work.state_write = _state_write(account.id, decision.state, pending, postpay, object_plans, state_doc, seen)

    def _rebuilt(
        self,
        account_id: str,
        billing_settings: BillingSettings,
        now: datetime,
        state_doc: dict | None,
        unseen: list,
        daily_now: dict,
        dry_run: bool,
    ) -> charging.BillingState | None:
        """The state of `now`'s period rebuilt from the ledger's charges (`charging.rebuilt`), for an account
        whose billing state document is missing (lost, or never billed: then None) or older than its ledger
        (`unseen`: the charges it has not seen). The ledger is the truth: without this, a lost state would charge
        the period's MRC again over its prorations, and an older one its prorations and days again."""
        period = period_containing(now, billing_settings.billing_day, billing_settings.timezone)
        given = charging.BillingState.from_doc(state_doc["state"]) if state_doc else None
        charges = [
            e
            for e in self.ledger.entries(account_id, period.start, now + timedelta(seconds=1))
            if e.kind in ledger_docs.CHARGE_KINDS
        ]
        state = charging.rebuilt(account_id, period, charges, given, daily_now)
        if given is None and state is None:
            return None
        if not dry_run:
            if given is None:
                log.warning(
                    "billing state of account %s missing: rebuilt from its %d charge(s) of the period from %s",
                    account_id,
                    len(charges),
                    period.start.date().isoformat(),
                )
            else:
                log.warning(
                    "billing state of account %s older than its ledger (evaluated %s; %d charge(s) written since, "
                    "the latest %s %s): rebuilt from its %d charge(s) of the period from %s",
                    account_id,
                    given.evaluated_at.isoformat() if given.evaluated_at else "never",
                    len(unseen),
                    unseen[-1].id,
                    unseen[-1].at.isoformat(),
                    len(charges),
                    period.start.date().isoformat(),
                )
            if self.metrics is not None:
                self.metrics.count("billing_states_rebuilt")
        return state or given

    def _write(self, works: list[_Work], now: datetime) -> None:
        """Billing states (one bulk write), then charges, services docs (one bulk write) and blocking."""
        saving = [(w, doc) for w in works if w.error is None and (doc := w.state_write) is not None]
        try:
            rows = self.state_db.bulk_docs([doc for _, doc in saving])
        except CouchError as exc:
            for w, _ in saving:
                w.error = exc
            rows = {}
        for w, doc in saving:
            row = rows.get(doc["_id"], {})
            if row.get("ok"):
                w.rev = self._trusted[w.account.id] = row["rev"]
            elif row.get("error") == "conflict":
                w.moved = True
            elif w.error is None:
                w.error = CouchError(0, str(row.get("error")), str(row.get("reason")), doc["_id"])
        going = [w for w in works if w.error is None and not w.moved]
        _each([w for w in going if w.evaluated.decision.charges], lambda w: self._write_charges(w, now))
        _each(
            [w for w in going if not w.evaluated.decision.charges],  # no charge took the carry-forward along
            lambda w: self.ledger.settle_carry(w.account.id, now),
        )
        going = [w for w in going if w.error is None]
        _each(
            [w for w in going if w.evaluated.decision.cancel_categories],
            lambda w: self.directory.cancel_categories(w.account, w.evaluated.decision.cancel_categories, now),
        )
        going = [w for w in going if w.error is None]
        for w in going:  # its pending charges and cancellation are done: no need to settle them again
            if w.rev and (w.evaluated.decision.charges or w.evaluated.decision.cancel_categories):
                self._written_by_me[w.account.id] = w.rev
        try:
            self.directory.save_services(
                [
                    (
                        w.account,
                        (
                            {
                                c: i
                                for c, i in w.evaluated.quantities.items()
                                if c not in w.evaluated.decision.cancel_categories
                            },
                            w.cascade,
                            w.evaluated.decision.standing,
                        ),
                    )
                    for w in going
                ],
                now,
            )
        except CouchError as exc:
            for w in going:
                w.error = exc
        _each(
            [w for w in going if w.error is None and (w.evaluated.decision.block or w.evaluated.decision.unblock)],
            lambda w: self._set_enabled(w, now),
        )
        _log_charges([w for w in going if w.error is None and w.charged])
        _each(
            [w for w in going if w.error is None and w.account.doc.get("pvt_agent")],  # after the batch's charges
            lambda w: self.agents.settle(w.account, now),
        )
        for w in works:
            if w.error is None and not w.moved:
                if self.metrics is not None and w.evaluated.written:
                    self.metrics.count("charges_written", len(w.evaluated.written))
                if self.after_charges is not None:
                    _guard(w, self.after_charges, w.evaluated)

    def _set_enabled(self, work: _Work, now: datetime) -> None:
        decision = work.evaluated.decision
        changed = self.directory.set_enabled(work.account.id, not decision.block, now)
        if changed:
            log.info(
                "%s account %s%s: %s, available funds %s %s",
                "blocked" if decision.block else "unblocked",
                work.account.id,
                f" and {len(changed) - 1} descendants" if len(changed) > 1 else "",
                decision.standing,
                decision.available_after,
                work.evaluated.currency,
            )

    def _write_charges(self, work: _Work, now: datetime) -> None:
        evaluation = work.evaluated
        charges = list(evaluation.decision.charges)
        results = self.ledger.write_charges(
            evaluation.account_id, charges, evaluation.currency, now, balance=work.balance
        )
        work.evaluation = replace(evaluation, written=tuple(r.id for r in results if r.written))
        work.charged = [c for c, r in zip(charges, results, strict=True) if r.written]

    def _cascade(self, account: Account, merged: list[plans.MergedPlan]) -> dict:
        """The sum over descendants' own quantities, when any plan item cascades (docs/kazoo.md)."""
        if not any(item.cascade for m in merged for cat in m.plan.plan.values() for item in cat.values()):
            return {}
        descendants = self.directory.descendants(account.id)
        docs = self.couch.db(SERVICES_DB).get_many(descendants)
        own = [
            (d.get("quantities") or {}).get("account", {}) if self.dialect == "4.3" else d.get("quantities", {})
            for d in docs.values()
        ]
        return plans.cascade_sum(own)

    def _settle(self, account: Account, pending: dict) -> None:
        """Do what a previous evaluation recorded as pending: write its charges (409: they were written) and
        apply its cancellation to the `limits` doc if that doc is still at the revision the evaluation read
        (another revision: we zeroed it already, or someone changed it since; either way it is left alone)."""
        at = datetime.fromisoformat(pending["at"])
        charges = [charging.Charge.from_doc(c) for c in pending["charges"]]
        self.ledger.write_charges(account.id, charges, pending["currency"], at)
        cancel = pending.get("cancel") or {}
        if cancel.get("limits_rev"):
            self.directory.load_limits(account)
            if (account.limits or {}).get("_rev") == cancel["limits_rev"]:
                try:
                    self.directory.cancel_categories(account, frozenset(cancel["categories"]), at)
                except Conflict:  # changed since we read it: not ours to zero any more
                    account.limits = None

    # -- the daemon's Engine protocol
    def handle_changes(self, db_name: str, rows: list[dict]) -> None:
        """React to changed documents: recount and evaluate each account touched (and its billing reseller); the
        `limits` doc is read again only when it is among the changes, the object plans when a changed document
        has a `service` field (or the last read found some)."""
        touched: dict[str, tuple[bool, bool]] = {}  # account -> (its limits doc changed, a doc names plans)
        parsed = parse_db_name(db_name)
        theirs = [
            r for r in rows if not designdocs.is_ours(r["id"]) and not written_by_us(r.get("doc") or {})
        ]  # a design doc of theirs may be a counter's view
        if parsed is not None and not parsed.is_modb:
            if theirs:
                self._check_poison(db_name, rows)
                touched[parsed.account_id] = (
                    any(r["id"] == LIMITS_DOC for r in theirs),
                    any("service" in (r.get("doc") or {}) for r in theirs),
                )
            if any(r["id"] == CONFIG_DOC for r in theirs):
                self._settings_changed(parsed.account_id)
            if any((r.get("doc") or {}).get("pvt_type") == "service_plan" or r.get("deleted") for r in theirs):
                self._plans_changed(parsed.account_id)
        elif db_name.endswith((ACCOUNTS_DB, SERVICES_DB)):
            touched.update((r["id"], (False, False)) for r in theirs if is_account_id(r["id"]) and not r.get("deleted"))
        for account_id, (limits, object_plans) in touched.items():
            try:
                self.evaluate_with_reseller(account_id, limits=limits, object_plans=object_plans)
            except UnknownAccount:
                log.info("%s: an account database with no account in %s: not billed", db_name, ACCOUNTS_DB)
            except Exception as exc:  # a bad document holds its own accounts (reported by `holds`), not the feed
                if not held(exc):
                    raise

    def _settings_changed(self, account_id: str) -> None:
        """An account's `configs_bookkeeper` changed: settings are read anew, and where custom counters were or
        are in them, every account below it is recounted (they may count other views now)."""
        counters: tuple[plans.Counter, ...] = ()
        with contextlib.suppress(BookkeeperError):  # invalid: reported by the evaluations that read it
            counters = self.directory.reseller_settings(account_id).billable_counters
        self.directory.forget()
        with contextlib.suppress(BookkeeperError):
            counters += self.directory.reseller_settings(account_id).billable_counters
        if not counters:
            return
        for results in self.evaluate_batches(self.directory.descendants(account_id), recount=True):
            for failed, exc in ((a, r) for a, r in results.items() if isinstance(r, Exception)):
                log.warning("recount of %s after %s/%s changed: %s", failed, account_id, CONFIG_DOC, exc)

    def _plans_changed(self, vendor_id: str) -> None:
        """A plan of `vendor_id` changed (its `bookkeeper` may be ours again): the accounts below it that were
        billed by another bookkeeper are evaluated at once, so one switched back is billed from today. (One
        switched away needs nothing now: its next evaluation, whatever causes it, finds it away and charges
        nothing.)"""
        below = self.directory.descendants(vendor_id)
        states = self.state_db.get_many([STATE_PREFIX + a for a in below])
        away = [a for a in below if ((states.get(STATE_PREFIX + a) or {}).get("state") or {}).get("away")]
        for results in self.evaluate_batches(away):
            for failed, exc in ((a, r) for a, r in results.items() if isinstance(r, Exception)):
                log.warning("evaluation of %s after a plan of %s changed: %s", failed, vendor_id, exc)

    def evaluate_with_reseller(
        self, account_id: str, now: datetime | None = None, limits: bool = True, object_plans: bool = True
    ) -> Evaluation:
        """Recount and evaluate an account after a change, then its billing reseller (cascade quantities); the
        account's evaluation. `limits`, `object_plans`: as `evaluate` takes them."""
        evaluation = self.evaluate(account_id, now, recount=True, limits=limits, object_plans=object_plans)
        if evaluation.reseller_id != account_id and evaluation.reseller_id != self.directory.master_id:
            self.evaluate(evaluation.reseller_id, now)
        return evaluation

    def _check_poison(self, db_name: str, rows: list[dict]) -> None:
        for row in rows:
            found = plans.problems(row.get("doc") or {})
            if found:
                log.warning(
                    "poison document %s/%s: %s (those fields count nothing)", db_name, row["id"], "; ".join(found)
                )
                if self.metrics is not None:
                    self.metrics.count("poison_documents")

    def tick(
        self, now: datetime, owns: Callable[[str], bool] = lambda _: True, stop: threading.Event | None = None
    ) -> None:
        """Evaluate every owned account that has not been evaluated since its reseller's latest day start, then
        run `after_tick` (the daemon generates the invoices of closed periods there); EvaluationFailed at the end
        if some accounts failed. Once `stop` is set (the daemon stops) it returns after the batch in hand: the
        accounts not evaluated stay due for the next tick."""
        owned = [a for a in self.directory.all_account_ids() if owns(a)]
        due = []
        for start in range(0, len(owned), BATCH):
            batch = owned[start : start + BATCH]
            states = self.state_db.get_many([STATE_PREFIX + a for a in batch])
            due += [a for a in batch if _due(states.get(STATE_PREFIX + a), now)]
        failures = {}
        for results in self.evaluate_batches(due, now):  # the failed and the held stay due for the next tick
            failures.update({a: r for a, r in results.items() if isinstance(r, Exception) and not held(r)})
            if stop is not None and stop.is_set():
                return
        if self.after_tick is not None:
            self.after_tick(now, owns)
        self._open_ahead(owned, now)
        if failures:
            raise EvaluationFailed(failures, [])

    def _open_ahead(self, account_ids: list[str], now: datetime) -> None:
        """In a month's last OPEN_AHEAD, create the next month's MODBs (and design documents), so the period-start
        run that follows only writes into them (KAZOO's `kt_modb_creation` does the same)."""
        following = ledger_docs.next_month(*ledger_docs.month_of(now))
        if ledger_docs.month_start(*following) - now > OPEN_AHEAD:
            return
        try:
            for start in range(0, len(account_ids), BATCH):
                list(_POOL.map(lambda a: self.ledger.open_ahead(a, *following), account_ids[start : start + BATCH]))
        except CouchError as exc:  # only a head start: the period-start run opens what is missing itself
            log.warning("opening the MODBs of %04d-%02d ahead: %s", *following, exc)

    def timezones(self) -> set[str]:
        resellers = {self.directory.master_id}
        for doc in self.couch.db(SERVICES_DB).all_docs(include_docs=True):
            if (doc.get("doc") or {}).get("pvt_reseller"):
                resellers.add(doc["id"])
        self.directory.refresh(resellers=sorted(resellers))
        zones = set()
        for reseller in resellers:
            try:
                zones.add(self.directory.reseller_settings(reseller).timezone)
            except InputError as err:  # never valid: its accounts are held; the other resellers' days go on
                self.holds.stale_settings(err.where, f"{err} (no valid settings yet: its accounts are held)")
        return zones


def _state_write(
    account_id: str,
    state: charging.BillingState,
    pending: dict | None,
    postpay: dict,
    object_plans: list,
    previous: dict | None,
    seen: list[str],
) -> dict | None:
    """The billing state advanced from the revision read, with this evaluation's charges as `pending` (written
    ahead: a crash before they reach the ledger is settled by the next evaluation, never charged again), the
    postpay terms of the `limits` doc and the object plans as last read, and `seen`: the keys of the charges of
    its evaluation's second that it accounts for (`BillingEngine._stale`); None if nothing changed."""
    doc = {
        "_id": STATE_PREFIX + account_id,
        "pvt_type": "bookkeeper_billing_state",
        "account_id": account_id,
        "state": state.to_doc(),
        "pending": pending,
        "postpay": postpay,
        "object_plans": object_plans,
        "seen": seen,
    }
    if previous is not None:
        if (
            previous.get("state") == doc["state"]
            and previous.get("postpay") == postpay
            and not pending
            and previous.get("object_plans") == object_plans
            and not previous.get("pending")
        ):
            return None
        doc["_rev"] = previous["_rev"]
    return doc


def _log_charges(works: list[_Work]) -> None:
    """One INFO line for a batch's charges: per account, the entries written, their kinds and net sum."""
    if not works:
        return
    parts = []
    for w in works:
        total = sum((-c.signed for c in w.charged), Decimal(0))
        kinds = ",".join(sorted({c.kind for c in w.charged}))
        parts.append(f"{w.account.id} {len(w.charged)} ({kinds}) {total} {w.evaluated.currency}")
    log.info("charges written for %d accounts: %s", len(works), "; ".join(parts))


def held(result) -> bool:
    """Whether an evaluation's outcome is a hold: a failure caused by a document (retrying cannot help until it
    is fixed), as opposed to the server's (a CouchError: retried)."""
    return isinstance(result, Exception) and not isinstance(result, CouchError)


def _guard(work: _Work, call: Callable[..., object], *args) -> None:
    """Run one account's step; an error fails that account only."""
    try:
        call(*args)
    except Exception as exc:
        work.error = exc


def _each(works: list[_Work], step: Callable[[_Work], object]) -> None:
    """Run a step for each account, on the pool when there are several."""
    if len(works) == 1:
        _guard(works[0], step, works[0])
    elif works:
        list(_POOL.map(lambda w: _guard(w, step, w), works))


def _evaluated_second(state_doc: dict | None) -> int | None:
    """The Gregorian second of the state's evaluation (None: never evaluated)."""
    at = ((state_doc or {}).get("state") or {}).get("evaluated_at")
    return to_gregorian(datetime.fromisoformat(at)) if at else None


def _period_ended(state_doc: dict, now: datetime) -> bool:
    """The billing state is of a period that ended by `now`."""
    return datetime.fromisoformat(state_doc["state"]["period"]["end"]) <= now


def _due(state_doc: dict | None, now: datetime) -> bool:
    """Not evaluated since the latest day start in its reseller's zone (or never)."""
    state = (state_doc or {}).get("state") or {}
    if not state.get("evaluated_at"):
        return True
    return datetime.fromisoformat(state["evaluated_at"]) < day_start(now, state["period"]["timezone"])
