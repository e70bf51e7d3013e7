"""`bookkeeper simulate`: a scenario run by the real engine over the real change-feed path on a simulated clock.

Builds KAZOO-shaped documents for every account (fresh databases: shared ones under a unique namespace, account
databases under fresh random ids), then walks time: at each moment the scheduled day-start ticks fire first, then
the scenario's events are written, then the change feeds are consumed up to their latest sequence, all before the
clock moves on. Nothing is computed here: the engine's charges are read back from the ledger.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bookkeeper import provision
from bookkeeper.accounts import LIMITS_DOC
from bookkeeper.billing import BillingEngine
from bookkeeper.clock import SimulatedClock, day_start, next_day_start
from bookkeeper.config import Config
from bookkeeper.couch import Couch
from bookkeeper.dbnames import ACCOUNTS_DB, SERVICES_DB, account_db, to_gregorian
from bookkeeper.errors import InputError
from bookkeeper.money import round_money
from bookkeeper.plans import priced_counters
from bookkeeper.settings import BillingSettings
from feeds.catchup import catch_up

from .scenario import Event, Scenario, billing_reseller

CARRY_FORWARD = "rollover"


class Simulation:
    """One run of a scenario against `couch` (its own namespace), on a simulated clock."""

    def __init__(self, scenario: Scenario, couch: Couch, config: Config, ids: dict[str, str] | None = None):
        self.scenario, self.couch = scenario, couch
        self.config = config.model_copy(update={"namespace": couch.namespace, "dialect": scenario.dialect})
        self.clock = SimulatedClock(scenario.start)
        self.ids = dict(ids or {})
        self.engine: BillingEngine | None = None  # made by `build`

    def built(self) -> BillingEngine:
        """The engine `build` made."""
        if self.engine is None:
            raise RuntimeError("the simulation is not built yet")
        return self.engine

    # -- building the world
    def build(self, now: datetime | None = None) -> None:
        """Write every account's documents as of `now` (default: the scenario's start) and the opening credits."""
        s, now = self.scenario, now or self.scenario.start
        for label in s.order():
            self.ids.setdefault(label, provision.new_account_id())
        for label in s.order():
            spec = s.spec(label)
            tree = self._tree(label)
            vendor = self.ids[self._vendor(label)]
            provision.create_account(
                self.couch,
                self.config,
                self.ids[label],
                spec.name,
                tree,
                now,
                reseller=spec.reseller and label != "master",
                plans=dict.fromkeys(spec.plans, vendor),
                trial_expires=spec.trial_expires,
                dialect=s.dialect,
                fields=self._referral_fields(spec),
            )
            if label in s.resellers:
                reseller = s.resellers[label]
                provision.put_billing_settings(self.couch, self.ids[label], reseller.settings, now)
                for plan_id, plan in reseller.plans.items():
                    provision.put_plan(self.couch, self.ids[label], plan_id, plan, now)
            if spec.limits is not None:
                provision.put_limits(self.couch, self.ids[label], spec.limits, now)
            if spec.docs:
                provision.add_docs(self.couch, self.ids[label], list(spec.docs), now)
        self.config = self.config.model_copy(update={"master_account": self.ids["master"]})
        self.engine = BillingEngine(self.couch, self.config, self.clock)
        for label in s.order():
            spec = s.spec(label)
            if spec.balance > 0:
                self.built().ledger.credit(
                    self.ids[label],
                    spec.balance,
                    self._currency(label),
                    kind="credit",
                    reason="manual_addition",
                    description="Opening balance",
                    at=now,
                    key=f"opening:{self.ids[label]}",
                )

    def _referral_fields(self, spec) -> dict:
        """`pvt_agent` and `pvt_referred_by` of an account document, from the scenario's `agent`, `referred_by`."""
        fields = {}
        if spec.agent is not None:
            fields["pvt_agent"] = spec.agent.document()
        if spec.referred_by is not None:
            fields["pvt_referred_by"] = self.ids[spec.referred_by]
        return fields

    def _tree(self, label: str) -> list[str]:
        chain: list[str] = []
        parent = self.scenario.spec(label).parent
        while parent:
            chain.insert(0, self.ids[parent])
            parent = self.scenario.spec(parent).parent
        return chain

    def _vendor(self, label: str) -> str:
        return billing_reseller(label, self.scenario.accounts)

    def _currency(self, label: str) -> str:
        return self._billing_settings(label).currency

    def _counters(self, label: str) -> tuple:
        """The custom counters its plans price."""
        directory = self.built().directory
        account = directory.account(self.ids[label])
        return priced_counters(
            self._billing_settings(label).billable_counters,
            directory.merged_plans(account, directory.reseller_of(account)),
        )

    def _billing_settings(self, label: str) -> BillingSettings:
        """The settings of the reseller that bills this account."""
        directory = self.built().directory
        return directory.reseller_settings(directory.reseller_of(directory.account(self.ids[label])))

    # -- walking time
    def moments(self) -> list[datetime]:
        """Every moment something happens: each reseller zone's day starts, and the events, in time order."""
        zones = {
            self.built().directory.reseller_settings(self.ids[r]).timezone
            for r in self.scenario.resellers
            if r in self.ids
        }
        moments = {e.at for e in self.scenario.events}
        for tz in zones:
            moment = day_start(self.scenario.start, tz)
            if moment < self.scenario.start:
                moment = next_day_start(self.scenario.start, tz)
            while moment < self.scenario.until:
                moments.add(moment)
                moment = next_day_start(moment + timedelta(seconds=1), tz)
        moments.add(self.scenario.start)
        return sorted(moments)

    def run(self, keep: bool = False) -> dict:
        try:
            self.build()
            databases = self._databases()
            for moment in self.moments():
                self.clock.set(moment)
                self.built().tick(moment)
                for event in (e for e in self.scenario.events if e.at == moment):
                    self._apply(event)
                catch_up(self.couch, self.built(), databases)
            self.clock.set(self.scenario.until)
            return self.report()
        finally:
            if not keep:
                self.remove()

    def _databases(self) -> list[str]:
        return [ACCOUNTS_DB, SERVICES_DB] + [account_db(i) for i in self.ids.values()]

    def _apply(self, event: Event) -> None:
        account_id, now = self.ids[event.account], event.at
        db = self.couch.db(account_db(account_id))
        if event.create is not None:
            provision.add_docs(self.couch, account_id, [dict(event.create) for _ in range(event.count)], now)
        elif event.delete is not None:
            matching = _matching(db, event.delete)
            if len(matching) < event.count:
                raise InputError(
                    self.scenario.source,
                    f"events[{event.index}].delete",
                    f"only {len(matching)} documents match, {event.count} to delete",
                )
            for doc in matching[: event.count]:
                db.put({**doc, "pvt_deleted": True, "pvt_modified": to_gregorian(now)})
        elif (update := event.update) is not None:
            for doc in _matching(db, update.match)[: event.count]:
                db.put({**doc, **update.set, "pvt_modified": to_gregorian(now)})
        elif event.limits is not None:
            current = db.get_or_none(LIMITS_DOC)
            if current is None:
                provision.put_limits(self.couch, account_id, event.limits, now)
            else:
                db.put({**current, **event.limits, "pvt_modified": to_gregorian(now)})
        elif (target := event.correct) is not None:
            ledger = self.built().ledger
            found = [
                e
                for e in ledger.entries(account_id, self.scenario.start, now)
                if (e.kind, e.type) == (target.kind, target.type)
            ]
            if not found:
                raise InputError(
                    self.scenario.source,
                    f"events[{event.index}].correct",
                    f"no {target.kind} {target.type} of {event.account} to correct",
                )
            ledger.correct(
                account_id,
                found[-1].id,
                event.reason or f"Correction of {found[-1].description}",
                now,
                target.amount,
                self._currency(event.account),
            )
            self.built().evaluate_with_reseller(account_id, now)
        else:
            write = self.built().ledger.credit if event.kind == "credit" else self.built().ledger.debit
            write(
                account_id,
                event.body,
                self._currency(event.account),
                kind="manual",
                reason=event.reason or ("manual_addition" if event.kind == "credit" else "admin_discretion"),
                description=f"Manual {event.kind}",
                at=now,
                key=f"sim:{account_id}:{event.index}",
            )
            self.built().evaluate_with_reseller(account_id, now)

    # -- the result
    def report(self) -> dict:
        out: dict[str, Any] = {
            "transactions": [],
            "balances": {},
            "currency": {},
            "status": {},
            "blocked": {},
            "quantities": {},
        }
        labels = [label for label in self.scenario.order() if label in self.scenario.accounts]
        rows = []
        for label in labels:
            account_id = self.ids[label]
            currency = self._currency(label)
            for entry in self.built().ledger.entries(account_id, self.scenario.start, self.scenario.until):
                if entry.kind == CARRY_FORWARD:
                    continue
                row = {
                    "account": label,
                    "at": entry.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "type": entry.type,
                    "amount": round_money(entry.amount, currency),
                    "kind": entry.kind,
                }
                if entry.category:
                    row.update(category=entry.category, item=entry.item)
                row["description"] = entry.description
                rows.append(row)
            out["balances"][label] = round_money(self.built().ledger.balance(account_id, self.scenario.until), currency)
            out["currency"][label] = currency
            services = self.couch.db(SERVICES_DB).get_or_none(account_id) or {}
            out["status"][label] = services.get("pvt_status", "good_standing")
            doc = self.couch.db(ACCOUNTS_DB).get(account_id)
            out["blocked"][label] = doc.get("pvt_enabled", True) is False
            held = self.built().holds.held().get(account_id)
            if held is None:
                out["quantities"][label] = self.built().directory.quantities(account_id, self._counters(label))
            else:  # not billed: what it was last billed for (nothing, if never)
                out.setdefault("held", {})[label] = held
                account = self.built().directory.account(account_id)
                out["quantities"][label] = self.built().directory.stored_quantities(account) or {}
        rows.sort(key=lambda r: (r["at"], r["type"] != "credit"))
        out["transactions"] = rows
        out["commissions"] = {
            label: round_money(
                sum(
                    (
                        c.amount
                        for c in self.built().agents.records(self.ids[label])
                        if self.scenario.start <= c.at < self.scenario.until
                    ),
                    Decimal(0),
                ),
                self._currency(label),
            )
            for label in labels
            if self.scenario.accounts[label].agent is not None
        }
        return out

    def remove(self) -> None:
        provision.remove(self.couch, self.config, self.ids.values())


def _matching(db, match: dict) -> list[dict]:
    """Live documents whose fields equal `match`, newest first."""
    docs = [r["doc"] for r in db.all_docs(include_docs=True) if not r["id"].startswith("_design/")]
    hits = [d for d in docs if not d.get("pvt_deleted") and all(d.get(k) == v for k, v in match.items())]
    return sorted(hits, key=lambda d: (d.get("pvt_created", 0), d["_id"]), reverse=True)


def simulate(scenario: Scenario, couch: Couch, config: Config, keep: bool = False) -> dict:
    """Run `scenario` in fresh databases on `couch`'s server; they are removed after unless `keep`."""
    return Simulation(scenario, couch.namespaced(f"sim{uuid.uuid4().hex[:10]}-"), config).run(keep)
