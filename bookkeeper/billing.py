"""One evaluation of one account, and the engine the daemon and the simulator drive.

load (account, reseller, settings, plans, quantities, balance, state) → the pure charging rules → ledger writes
(deterministic ids) → billing state (saved with its `_rev`) → what KAZOO sees (services doc, `pvt_enabled`).
A crash anywhere replays safely: charges already written answer 409, and the state is only advanced after them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import charging, plans
from .accounts import Account, Directory, UnknownAccount, master_account_id, written_by_us
from .clock import Clock, day_start
from .couch import Conflict, Couch
from .dbnames import ACCOUNTS_DB, SERVICES_DB, is_account_id, parse_db_name
from .ledger import Ledger

log = logging.getLogger(__name__)
STATE_PREFIX = "billing_state:"
BATCH = 200


class StateMoved(Exception):
    """Another evaluator saved the account's billing state after we read it: evaluate again."""


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation decided and did."""

    account_id: str
    reseller_id: str
    currency: str
    decision: charging.Decision
    quantities: dict
    written: tuple[str, ...] = ()


def priced_items(invoices: list[plans.Invoice]) -> list[charging.PricedItem]:
    """The plans engine's invoice lines as the charging rules take them (all bookkeeper groups together)."""
    items = []
    for invoice in invoices:
        for line in invoice.items:
            items.append(charging.PricedItem(
                category=line.category, item=line.item, quantity=int(line.quantity), billable=int(line.billable),
                rate=line.rate, total=line.total, activation_charge=line.activation_charge,
                prorate_additions=line.prorate_additions, prorate_removals=line.prorate_removals))
    return items


class BillingEngine:
    """Evaluates accounts: on changes (feeds), on ticks (scheduler), on credits, and for `billing run`."""

    def __init__(self, couch: Couch, settings, clock: Clock, *, ledger: Ledger | None = None,
                 directory: Directory | None = None, metrics=None,
                 after_charges: Callable[[Evaluation], None] | None = None,
                 after_tick: Callable[[datetime, Callable[[str], bool]], object] | None = None):
        self.couch, self.settings, self.clock = couch, settings, clock
        self.dialect = settings.dialect
        self.ledger = ledger or Ledger(couch, dialect=self.dialect, clock=clock)
        self.directory = directory or Directory(couch, master_account_id(couch, settings.master_account), self.dialect)
        self.metrics = metrics
        self.after_charges = after_charges
        self.after_tick = after_tick
        self.state_db = couch.db(settings.bookkeeper_db)
        self._locks: dict[str, threading.Lock] = {}
        self._written_by_me: dict[str, str] = {}  # account -> state _rev whose pending charges this process wrote
        self._locks_guard = threading.Lock()

    # -- evaluating accounts
    def evaluate(self, account_id: str, now: datetime | None = None, dry_run: bool = False,
                 recount: bool = True) -> Evaluation:
        """Evaluate one account at `now` (default: the clock) and, unless `dry_run`, write the outcome.

        `recount`: count quantities from the account DB (after a change); else trust the services doc's."""
        found = self.evaluate_many([account_id], now, dry_run, recount)
        if not found:
            raise UnknownAccount(f"{account_id}: no such account in {ACCOUNTS_DB}")
        return found[0]

    def evaluate_many(self, account_ids: list[str], now: datetime | None = None, dry_run: bool = False,
                      recount: bool = False) -> list[Evaluation]:
        """Evaluate accounts in order, reading their account, services and state documents in bulk."""
        now = now or self.clock.now()
        out = []
        for start in range(0, len(account_ids), BATCH):
            batch = account_ids[start:start + BATCH]
            states = self.state_db.get_many([STATE_PREFIX + a for a in batch])
            for account in self.directory.accounts(batch):
                out.append(self._evaluate_retrying(account, states.get(STATE_PREFIX + account.id), now, dry_run,
                                                   recount))
        return out

    def _evaluate_retrying(self, account: Account, state_doc: dict | None, now: datetime, dry_run: bool,
                           recount: bool) -> Evaluation:
        lock = self._lock_of(account.id)  # threads of this process take turns; other processes meet StateMoved
        if not lock.acquire(blocking=False):
            lock.acquire()
            account = self.directory.account(account.id)  # what we read before waiting is stale now
            state_doc = self.state_db.get_or_none(STATE_PREFIX + account.id)
        try:
            return self._evaluate_with_retries(account, state_doc, now, dry_run, recount)
        finally:
            lock.release()

    def _lock_of(self, account_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def _evaluate_with_retries(self, account: Account, state_doc: dict | None, now: datetime, dry_run: bool,
                               recount: bool) -> Evaluation:
        for _ in range(5):
            try:
                return self._evaluate(account, state_doc, now, dry_run, recount)
            except StateMoved:
                log.info("billing state of %s changed under us; evaluating again", account.id)
                account = self.directory.account(account.id)
                state_doc = self.state_db.get_or_none(STATE_PREFIX + account.id)
        raise Conflict(409, "conflict", "billing state kept changing", account.id)

    def _evaluate(self, account: Account, state_doc: dict | None, now: datetime, dry_run: bool,
                  recount: bool) -> Evaluation:
        directory = self.directory
        if state_doc and state_doc.get("pending") and not dry_run \
                and self._written_by_me.get(account.id) != state_doc["_rev"]:
            self._settle(account.id, state_doc["pending"])
        reseller_id = directory.reseller_of(account)
        settings = directory.settings(reseller_id)
        merged = directory.merged_plans(account, reseller_id)
        stored = directory.stored_quantities(account)
        quantities = directory.quantities(account.id) if recount or stored is None else stored
        cascade = self._cascade(account, merged)

        def reprice(cancelled: frozenset[str]) -> list[charging.PricedItem]:
            kept = {c: items for c, items in quantities.items() if c not in cancelled}
            return priced_items([plans.price(m, kept, cascade) for m in merged])

        items = reprice(frozenset())
        allowed, max_postpay = account.postpay
        facts = charging.AccountFacts(
            balance=self.ledger.balance(account.id, now), postpay_allowed=allowed, max_postpay=max_postpay,
            trial_expires=account.trial_expires, admin_blocked=not account.enabled and not account.blocked_by_us,
            blocked_by_us=account.blocked_by_us)
        state = charging.BillingState.from_doc(state_doc["state"]) if state_doc else None
        if state is not None and not dry_run and _missed_period_end(state, now):
            # settle the previous period's last days (daily fees) before billing the new one
            self._evaluate(account, state_doc, state.period.end - timedelta(seconds=1), dry_run, recount)
            return self._evaluate(account, self.state_db.get(STATE_PREFIX + account.id), now, dry_run, recount)
        decision = charging.evaluate(settings, account.id, state, items, facts, now, reprice)
        evaluation = Evaluation(account.id, reseller_id, settings.currency, decision, quantities)
        if dry_run:
            return evaluation
        pending = {"at": now.isoformat(), "currency": settings.currency,
                   "charges": [c.to_doc() for c in decision.charges]} if decision.charges else None
        rev = self._save_state(account.id, decision.state, pending, state_doc)
        results = self.ledger.write_charges(account.id, list(decision.charges), settings.currency, now)
        written = tuple(r.id for r in results if r.written)
        if pending and rev:
            self._written_by_me[account.id] = rev  # this process wrote them: no need to settle them again
        if decision.cancel_categories:
            directory.cancel_categories(account, decision.cancel_categories, now)
        shown = {c: i for c, i in quantities.items() if c not in decision.cancel_categories}
        directory.save_services(account, shown, cascade, decision.standing, now)
        if decision.block:
            directory.set_enabled(account.id, False, now)
        elif decision.unblock:
            directory.set_enabled(account.id, True, now)
        evaluation = replace(evaluation, written=written)
        if self.metrics is not None and written:
            self.metrics.count("charges_written", len(written))
        if self.after_charges is not None:
            self.after_charges(evaluation)
        return evaluation

    def _cascade(self, account: Account, merged: list[plans.MergedPlan]) -> dict:
        """The sum over descendants' own quantities, when any plan item cascades (kazoo.md §2.4)."""
        if not any(item.cascade for m in merged for cat in m.plan.plan.values() for item in cat.values()):
            return {}
        descendants = self.directory.descendants(account.id)
        docs = self.couch.db(SERVICES_DB).get_many(descendants)
        own = [(d.get("quantities") or {}).get("account", {}) if self.dialect == "4.3" else d.get("quantities", {})
               for d in docs.values()]
        return plans.cascade_sum(own)

    def _settle(self, account_id: str, pending: dict) -> None:
        """Write the charges a previous evaluation recorded as pending (409: they were written)."""
        charges = [charging.Charge.from_doc(c) for c in pending["charges"]]
        self.ledger.write_charges(account_id, charges, pending["currency"], datetime.fromisoformat(pending["at"]))

    def _save_state(self, account_id: str, state, pending: dict | None, previous: dict | None) -> str | None:
        """Advance the state from the revision we read, with this evaluation's charges as `pending` (written
        ahead: a crash before they reach the ledger is settled by the next evaluation, never charged again).
        StateMoved if another evaluator advanced the state first."""
        doc = {"_id": STATE_PREFIX + account_id, "pvt_type": "bookkeeper_billing_state", "account_id": account_id,
               "state": state.to_doc(), "pending": pending}
        if previous is not None:
            if previous.get("state") == doc["state"] and not pending and not previous.get("pending"):
                return None
            doc["_rev"] = previous["_rev"]
        try:
            return self.state_db.put(doc)
        except Conflict:
            raise StateMoved(account_id) from None

    # -- the daemon's Engine protocol
    def handle_changes(self, db_name: str, rows: list[dict]) -> None:
        """React to changed documents: recount and evaluate each account touched (and its billing reseller)."""
        touched: list[str] = []
        parsed = parse_db_name(db_name)
        if parsed is not None and not parsed.is_modb:
            if any(not r["id"].startswith("_design/") and not written_by_us(r.get("doc") or {}) for r in rows):
                self._check_poison(db_name, rows)
                touched.append(parsed.account_id)
        elif db_name.endswith((ACCOUNTS_DB, SERVICES_DB)):
            touched += [r["id"] for r in rows if is_account_id(r["id"]) and not r.get("deleted")
                        and not written_by_us(r.get("doc") or {})]
        for account_id in dict.fromkeys(touched):
            try:
                self.evaluate_with_reseller(account_id)
            except UnknownAccount:
                log.info("%s: an account database with no account in %s: not billed", db_name, ACCOUNTS_DB)

    def evaluate_with_reseller(self, account_id: str, now: datetime | None = None) -> None:
        """Recount and evaluate an account after a change, then its billing reseller (cascade quantities)."""
        evaluation = self.evaluate(account_id, now, recount=True)
        if evaluation.reseller_id != account_id and evaluation.reseller_id != self.directory.master_id:
            self.evaluate(evaluation.reseller_id, now)

    def _check_poison(self, db_name: str, rows: list[dict]) -> None:
        for row in rows:
            found = plans.problems(row.get("doc") or {})
            if found:
                log.warning("poison document %s/%s: %s (those fields count nothing)", db_name, row["id"],
                            "; ".join(found))
                if self.metrics is not None:
                    self.metrics.count("poison_documents")

    def tick(self, now: datetime, owns: Callable[[str], bool] = lambda _: True) -> None:
        """Evaluate every owned account that has not been evaluated since its reseller's latest day start, then
        run `after_tick` (the daemon generates the invoices of closed periods there)."""
        owned = [a for a in self.directory.all_account_ids() if owns(a)]
        due = []
        for start in range(0, len(owned), BATCH):
            batch = owned[start:start + BATCH]
            states = self.state_db.get_many([STATE_PREFIX + a for a in batch])
            due += [a for a in batch if _due(states.get(STATE_PREFIX + a), now)]
        self.evaluate_many(due, now)
        if self.after_tick is not None:
            self.after_tick(now, owns)

    def timezones(self) -> set[str]:
        resellers = {self.directory.master_id}
        for doc in self.couch.db(SERVICES_DB).all_docs(include_docs=True):
            if (doc.get("doc") or {}).get("pvt_reseller"):
                resellers.add(doc["id"])
        return {self.directory.settings(r).timezone for r in resellers}



def _missed_period_end(state: charging.BillingState, now: datetime) -> bool:
    """The state is of an earlier period whose daily fees stop before its last day."""
    return state.period.end.timestamp() <= now.timestamp() and bool(state.last_daily) \
        and (state.last_day or 0) < state.period.days


def _due(state_doc: dict | None, now: datetime) -> bool:
    """Not evaluated since the latest day start in its reseller's zone (or never)."""
    state = (state_doc or {}).get("state") or {}
    if not state.get("evaluated_at"):
        return True
    return datetime.fromisoformat(state["evaluated_at"]) < day_start(now, state["period"]["timezone"])
