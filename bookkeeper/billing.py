"""One evaluation of one account, and the engine the daemon and the simulator drive.

load (account, reseller, settings, plans, quantities, balance, state) → the pure charging rules → ledger writes
(deterministic ids) → billing state (saved with its `_rev`) → what KAZOO sees (services doc, `pvt_enabled`).
A crash anywhere replays safely: charges already written answer 409, and the state is only advanced after them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from . import charging, plans
from .accounts import Account, Directory, master_account_id, written_by_us
from .clock import Clock, day_start, period_containing
from .couch import Conflict, Couch
from .dbnames import ACCOUNTS_DB, SERVICES_DB, is_account_id, parse_db_name
from .ledger import Ledger
from .settings import BookkeeperSettings

log = logging.getLogger(__name__)
STATE_PREFIX = "billing_state:"


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
                 after_charges: Callable[[Evaluation], None] | None = None):
        self.couch, self.settings, self.clock = couch, settings, clock
        self.dialect = settings.dialect
        self.ledger = ledger or Ledger(couch, dialect=self.dialect)
        self.directory = directory or Directory(couch, master_account_id(couch, settings.master_account), self.dialect)
        self.metrics = metrics
        self.after_charges = after_charges
        self.state_db = couch.db(settings.bookkeeper_db)

    # -- one account
    def evaluate(self, account_id: str, now: datetime | None = None, dry_run: bool = False) -> Evaluation:
        """Evaluate one account at `now` (default: the clock) and, unless `dry_run`, write the outcome."""
        now = now or self.clock.now()
        for _ in range(5):
            try:
                return self._evaluate(account_id, now, dry_run)
            except Conflict as exc:
                if exc.path and STATE_PREFIX not in exc.path:
                    raise
                log.info("billing state of %s changed under us; evaluating again", account_id)
        raise Conflict(409, "conflict", "billing state kept changing", account_id)

    def _evaluate(self, account_id: str, now: datetime, dry_run: bool) -> Evaluation:
        directory = self.directory
        account = directory.account(account_id)
        reseller_id = directory.reseller_of(account)
        settings = directory.settings(reseller_id)
        merged = directory.merged_plans(account, reseller_id)
        quantities = directory.quantities(account_id)
        cascade = self._cascade(account, merged)

        def reprice(cancelled: frozenset[str]) -> list[charging.PricedItem]:
            kept = {c: items for c, items in quantities.items() if c not in cancelled}
            return priced_items([plans.price(m, kept, cascade) for m in merged])

        items = reprice(frozenset())
        allowed, max_postpay = account.postpay
        facts = charging.AccountFacts(
            balance=self.ledger.balance(account_id, now), postpay_allowed=allowed, max_postpay=max_postpay,
            trial_expires=account.trial_expires, admin_blocked=not account.enabled and not account.blocked_by_us,
            blocked_by_us=account.blocked_by_us)
        state_doc = self.state_db.get_or_none(STATE_PREFIX + account_id)
        state = charging.BillingState.from_doc(state_doc["state"]) if state_doc else None
        decision = charging.evaluate(account_id, settings, state, items, facts, now, reprice)
        evaluation = Evaluation(account_id, reseller_id, settings.currency, decision, quantities)
        if dry_run:
            return evaluation
        results = self.ledger.write_charges(account_id, list(decision.charges), settings.currency, now)
        written = tuple(r.id for r in results if r.written)
        if decision.cancel_categories:
            directory.cancel_categories(account, decision.cancel_categories, now)
        self._save_state(account_id, decision.state, state_doc)
        shown = quantities if not decision.cancel_categories else \
            {c: i for c, i in quantities.items() if c not in decision.cancel_categories}
        directory.save_services(account, shown, cascade, decision.standing, now)
        if decision.block:
            directory.set_enabled(account_id, False, now)
        elif decision.unblock:
            directory.set_enabled(account_id, True, now)
        evaluation = replace(evaluation, written=written)
        if self.metrics is not None and written:
            self.metrics.count("charges_written", len(written))
        if self.after_charges is not None and written:
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

    def _save_state(self, account_id: str, state, previous: dict | None) -> None:
        doc = {"_id": STATE_PREFIX + account_id, "pvt_type": "bookkeeper_billing_state", "account_id": account_id,
               "state": state.to_doc()}
        if previous is not None:
            if previous.get("state") == doc["state"]:
                return
            doc["_rev"] = previous["_rev"]
        self.state_db.put(doc)

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
            self.evaluate_with_reseller(account_id)

    def evaluate_with_reseller(self, account_id: str, now: datetime | None = None) -> None:
        evaluation = self.evaluate(account_id, now)
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
        """Evaluate every owned account that has not been evaluated since its reseller's latest day start."""
        for account_id in self.directory.all_account_ids():
            if owns(account_id) and self._due(account_id, now):
                self.evaluate(account_id, now)

    def _due(self, account_id: str, now: datetime) -> bool:
        doc = self.state_db.get_or_none(STATE_PREFIX + account_id)
        if doc is None or not doc["state"].get("evaluated_at"):
            return True
        last = datetime.fromisoformat(doc["state"]["evaluated_at"])
        tz = doc["state"]["period"]["timezone"]
        return last < day_start(now, tz)

    def timezones(self) -> set[str]:
        resellers = {self.directory.master_id}
        for doc in self.couch.db(SERVICES_DB).all_docs(include_docs=True):
            if (doc.get("doc") or {}).get("pvt_reseller"):
                resellers.add(doc["id"])
        return {self.directory.settings(r).timezone for r in resellers}

