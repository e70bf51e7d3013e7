"""Referral agents (docs/agents.md): who brought whom, commissions computed once per (agent, referred account,
level, period) and paid, statements.

Referrals are read from the `bookkeeper_agents/referred` view of the `accounts` DB (key: the agent; one row for the
current `pvt_referred_by` and one per earlier referrer in `pvt_referred_before`, each with the time it counts from
and until). At an agent's evaluation every ended period of each referred account (in that account's own billing
periods) that has no commission record yet is computed from the referred account's ledger; the commission is
credited to the agent (ledger kind `commission`, keyed: never twice) unless the agent's reseller pays out
`payable` or the currencies differ, then it is only recorded. Each commission has a record document in the agent's
account DB, written after the credit: a crash between the two is settled by the next evaluation (the credit
answers as already written).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from . import provision
from .accounts import Account, Directory, mark_written
from .charging import commissions as rules
from .clock import Period, period_containing
from .config import Config
from .couch import Conflict, Couch, Database, NotFound
from .dbnames import ACCOUNTS_DB, account_db, from_gregorian, modb, modb_prefix
from .documents.pdf import render_commissions
from .errors import InputError
from .ledger import Ledger
from .money import round_money

log = logging.getLogger(__name__)
VIEW = ("bookkeeper_agents", "referred")
LOOKBACK = 24  # periods of a referred account looked at per evaluation
STATEMENT_PDF = "commissions.pdf"


@dataclass(frozen=True)
class Referral:
    """An account an agent brought, directly (level 1) or through agents it brought (level 2, ...)."""

    account_id: str
    level: int
    via: str  # the agent that brought it
    since: datetime | None = None  # counts for periods starting at or after this (None: from its creation)
    until: datetime | None = None  # counts for periods ending at or before this (None: still)

    def counts(self, period: Period) -> bool:
        """This referral earns commissions on that period of the referred account."""
        return (self.since is None or period.start >= self.since) and (self.until is None or period.end <= self.until)


@dataclass(frozen=True)
class Commission:
    """One commission: computed from a referred account's period; `recorded` once its record exists."""

    key: str
    agent_id: str
    referred_id: str
    referred_name: str
    level: int
    period: Period
    base: Decimal
    rate: str
    amount: Decimal
    currency: str
    payout: str  # credit | payable
    at: datetime
    recorded: bool = False
    entry_id: str | None = None
    lines: dict = field(default_factory=dict)  # base per category

    @property
    def description(self) -> str:
        return (
            f"Commission level {self.level} on {self.referred_name} ({self.referred_id}), period "
            f"{self.period.start_date}..{self.period.last_date}: {self.rate} of {self.base} {self.currency}"
        )

    def to_doc(self) -> dict:
        return {
            "_id": rules.record_id(self.key),
            "pvt_type": "bookkeeper_commission",
            "key": self.key,
            "agent": self.agent_id,
            "referred": self.referred_id,
            "referred_name": self.referred_name,
            "level": self.level,
            "period": self.period.to_doc(),
            "base": str(self.base),
            "rate": self.rate,
            "amount": str(self.amount),
            "currency": self.currency,
            "payout": self.payout,
            "at": self.at.isoformat(),
            "entry": self.entry_id,
            "description": self.description,
            "lines": {c or "": str(b) for c, b in self.lines.items()},
        }

    @classmethod
    def from_doc(cls, doc: dict) -> Commission:
        return cls(
            doc["key"],
            doc["agent"],
            doc["referred"],
            doc.get("referred_name", doc["referred"]),
            doc["level"],
            Period.from_doc(doc["period"]),
            Decimal(doc["base"]),
            doc["rate"],
            Decimal(doc["amount"]),
            doc["currency"],
            doc["payout"],
            datetime.fromisoformat(doc["at"]),
            True,
            doc.get("entry"),
            {c or None: Decimal(b) for c, b in (doc.get("lines") or {}).items()},
        )


def _time(value, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(where, name, f"not an ISO-8601 time: {value!r}") from None


def _created(account: Account) -> datetime | None:
    created = account.doc.get("pvt_created")
    return from_gregorian(created) if isinstance(created, int) and created > 0 else None


class Agents:
    """Commissions of agents, over the engine's ledger and directory."""

    def __init__(self, couch: Couch, ledger: Ledger, directory: Directory):
        self.couch, self.ledger, self.directory = couch, ledger, directory

    def terms(self, agent: Account) -> rules.AgentTerms:
        terms = rules.agent_terms(agent.doc, f"{ACCOUNTS_DB}/{agent.id}")
        if terms is None:
            raise InputError(f"{ACCOUNTS_DB}/{agent.id}", "pvt_agent", "this account is no agent")
        return terms

    def referred(self, agent_id: str, depth: int) -> list[Referral]:
        """The accounts an agent brought, level by level up to `depth`; a cycle stops at the first account met
        twice, and an agent is never its own referrer."""
        out: list[Referral] = []
        seen, expanded, frontier = set(), {agent_id}, [agent_id]
        for level in range(1, depth + 1):
            if not frontier:
                break
            rows = self.couch.db(ACCOUNTS_DB).view(*VIEW, keys=frontier)["rows"]
            frontier = []
            for row in sorted(rows, key=lambda r: (r["id"], r["key"], str(r.get("value")))):
                value = row.get("value") or {}
                if row["id"] == agent_id or (row["id"], row["key"], level) in seen:
                    continue
                seen.add((row["id"], row["key"], level))
                where = f"{ACCOUNTS_DB}/{row['id']}"
                out.append(
                    Referral(
                        row["id"],
                        level,
                        row["key"],
                        _time(value.get("from"), where, "pvt_referred_from"),
                        _time(value.get("until"), where, "pvt_referred_before.until"),
                    )
                )
                if value.get("agent") and row["id"] not in expanded:
                    expanded.add(row["id"])
                    frontier.append(row["id"])
        return out

    # -- computing
    def _periods(self, referral: Referral, account: Account, now: datetime) -> list[Period]:
        """The referred account's ended periods that count for this referral, newest first."""
        billing_settings = self.directory.reseller_settings(account.reseller)
        created = _created(account)
        out = []
        period = period_containing(now, billing_settings.billing_day, billing_settings.timezone)
        for _ in range(LOOKBACK):
            period = period_containing(
                period.start - timedelta(seconds=1), billing_settings.billing_day, billing_settings.timezone
            )
            if created is not None and period.end <= created:
                break
            if referral.since is not None and period.start < referral.since:
                break
            if referral.counts(period):
                out.append(period)
        return out

    def compute(
        self, agent: Account, referral: Referral, account: Account, period: Period, now: datetime
    ) -> Commission:
        """The commission of one referral for one period of the referred account, from its ledger."""
        terms = self.terms(agent)
        currency = self.directory.reseller_settings(account.reseller).currency
        agent_settings = self.directory.reseller_settings(agent.reseller)
        payout = agent_settings.commission_payout if agent_settings.currency == currency else "payable"
        entries = self.ledger.entries(account.id, period.start, period.end)
        corrected = {}
        for entry in entries:
            target = rules.correction_target(entry)
            if target is not None:
                corrected[target] = self.ledger.entry(account.id, target.rsplit("/", 1)[1])
        lines = rules.base_by_category(entries, corrected)
        base, amount = (round_money(a, currency) for a in rules.commission(lines, terms, referral.level, currency))
        rate = f"{terms.levels[referral.level - 1]}%"
        used = {c: terms.rate(referral.level, c) for c in lines if c is not None}
        if any(r != terms.levels[referral.level - 1] for r in used.values()):
            rate += (
                " ("
                + ", ".join(f"{c} {r}%" for c, r in sorted(used.items()) if r != terms.levels[referral.level - 1])
                + ")"
            )
        key = rules.commission_key(agent.id, account.id, referral.level, period.start)
        return Commission(
            key,
            agent.id,
            account.id,
            account.name,
            referral.level,
            period,
            base,
            rate,
            amount,
            currency,
            payout,
            now,
            lines=lines,
        )

    def due(self, agent: Account, now: datetime) -> list[Commission]:
        """Commissions of periods ended by `now` that are not recorded yet."""
        terms = self.terms(agent)
        referrals = self.referred(agent.id, len(terms.levels))
        accounts = {a.id: a for a in self.directory.accounts([r.account_id for r in referrals])}
        wanted = []
        for referral in referrals:
            account = accounts.get(referral.account_id)
            if account is None:
                continue
            for period in self._periods(referral, account, now):
                wanted.append((referral, account, period))
        keys = {rules.record_id(rules.commission_key(agent.id, a.id, r.level, p.start)) for r, a, p in wanted}
        recorded = set(self.couch.db(account_db(agent.id)).get_many(sorted(keys))) if keys else set()
        return [
            self.compute(agent, r, a, p, now)
            for r, a, p in wanted
            if rules.record_id(rules.commission_key(agent.id, a.id, r.level, p.start)) not in recorded
        ]

    # -- paying
    def settle(self, agent: Account, now: datetime) -> list[Commission]:
        """Compute and pay (or record as payable) every due commission of an agent; the ones written."""
        written = []
        for c in self.due(agent, now):
            if c.amount > 0 and c.payout == "credit":
                result = self.ledger.credit(
                    agent.id,
                    c.amount,
                    c.currency,
                    kind="commission",
                    reason="manual_addition",
                    description=c.description,
                    at=now,
                    key=c.key,
                    metadata={
                        "referred": c.referred_id,
                        "level": c.level,
                        "period_start": c.period.start.isoformat(),
                        "base": str(c.base),
                        "rate": c.rate,
                    },
                )
                c = replace(c, entry_id=result.id)
            try:
                self.couch.db(account_db(agent.id)).put(mark_written(c.to_doc()))
            except Conflict:  # recorded meanwhile by another evaluator
                continue
            written.append(c)
        return written

    def records(self, agent_id: str) -> list[Commission]:
        """Every recorded commission of an agent, oldest period first."""
        rows = self.couch.db(account_db(agent_id)).all_docs(
            include_docs=True, startkey=rules.RECORD_PREFIX, endkey=rules.RECORD_PREFIX + "\ufff0"
        )
        found = [Commission.from_doc(r["doc"]) for r in rows if r.get("doc")]
        return sorted(found, key=lambda c: (c.period.start, c.referred_id, c.level))

    def statement(self, agent: Account, at: datetime) -> list[Commission]:
        """For each account the agent brought, its commission for the period containing `at`: the record if there
        is one, else as computed now (ledger so far; `recorded` False)."""
        terms = self.terms(agent)
        referrals = self.referred(agent.id, len(terms.levels))
        accounts = {a.id: a for a in self.directory.accounts([r.account_id for r in referrals])}
        recorded = {c.key: c for c in self.records(agent.id)}
        out = []
        for referral in referrals:
            account = accounts.get(referral.account_id)
            if account is None:
                continue
            billing_settings = self.directory.reseller_settings(account.reseller)
            period = period_containing(at, billing_settings.billing_day, billing_settings.timezone)
            created = _created(account)
            if not referral.counts(period) or (created is not None and period.end <= created):
                continue
            key = rules.commission_key(agent.id, account.id, referral.level, period.start)
            out.append(recorded.get(key) or self.compute(agent, referral, account, period, at))
        return out

    # -- documents and accounts
    def save_statement(self, agent: Account, at: datetime, now: datetime) -> tuple[dict, bytes]:
        """The commission statement of the periods containing `at`, as a document with its PDF attached in the
        agent's MODB of `at`'s month (beside its invoices), saved again when asked again; (summary, PDF)."""
        lines = self.statement(agent, at)
        totals: dict[str, Decimal] = {}
        for c in lines:
            totals[c.currency] = totals.get(c.currency, Decimal(0)) + c.amount
        rows = [
            {
                "account": c.referred_id,
                "name": c.referred_name,
                "level": c.level,
                "period": f"{c.period.start_date} – {c.period.last_date}",
                "period_start": c.period.start_date.isoformat(),
                "base": c.base,
                "rate": c.rate,
                "commission": c.amount,
                "currency": c.currency,
                "payout": c.payout,
                "recorded": c.recorded,
            }
            for c in lines
        ]
        pdf = render_commissions(
            agent=f"{agent.name} ({agent.id})",
            title=f"Periods containing {at.date().isoformat()}",
            lines=[
                {
                    **r,
                    "base": f"{r['base']} {r['currency']}",
                    "commission": f"{r['commission']} {r['currency']}",
                    "payout": r["payout"] if r["recorded"] else f"{r['payout']} (period open)",
                }
                for r in rows
            ],
            totals={c: f"{a} {c}" for c, a in totals.items()},
            issued=now.date(),
        )
        summary = {"agent": agent.id, "at": at.date().isoformat(), "lines": rows, "totals": totals}
        db = self.couch.db(modb(agent.id, at.year, at.month)).ensure()
        doc_id = f"{modb_prefix(at.year, at.month)}commission-statement-{at.date().isoformat()}"
        statement = {
            **summary,
            "pvt_type": "bookkeeper_commission_statement",
            "generated_at": now.isoformat(),
            "_attachments": {
                STATEMENT_PDF: {"content_type": "application/pdf", "data": base64.b64encode(pdf).decode()}
            },
        }
        db.update(doc_id, lambda _: statement)  # replaces whatever an earlier generation left
        return {**summary, "id": doc_id, "db": db.name}, pdf

    def create_account(self, config: Config, agent: Account, name: str, parent_id: str | None, now: datetime) -> str:
        """A new account for a customer the agent brings (its referrer recorded from the start), under `parent_id`
        (default: the agent's own parent)."""
        self.terms(agent)
        parent_id = parent_id or (agent.tree[-1] if agent.tree else self.directory.master_id)
        parent = self.directory.account(parent_id)
        account_id = provision.new_account_id()
        provision.create_account(
            self.couch,
            config,
            account_id,
            name,
            [*parent.tree, parent_id],
            now,
            fields={"pvt_referred_by": agent.id},
            dialect=self.directory.dialect,
        )
        return account_id

    def refer(self, account_id: str, agent_id: str, now: datetime) -> dict:
        """An administrator's change of an account's referrer: the new agent counts from the account's next period,
        the previous one (kept in `pvt_referred_before`) until then. Written on the account document in `accounts`
        and in the account's own DB; the fields as set."""
        if account_id == agent_id:
            raise InputError(f"{ACCOUNTS_DB}/{account_id}", "pvt_referred_by", "an agent is never its own referrer")
        self.terms(self.directory.account(agent_id))
        account = self.directory.account(account_id)
        billing_settings = self.directory.reseller_settings(account.reseller)
        start = period_containing(now, billing_settings.billing_day, billing_settings.timezone).end.isoformat()
        fields: dict = {}
        for db in (self.couch.db(ACCOUNTS_DB), self.couch.db(account_db(account_id))):

            def change(doc: dict | None, db: Database = db) -> dict | None:
                nonlocal fields
                if doc is None:
                    raise NotFound(404, "not_found", "missing", f"{db.name}/{account_id}")
                previous = doc.get("pvt_referred_by")
                if previous == agent_id:
                    fields = {k: doc.get(k) for k in ("pvt_referred_by", "pvt_referred_from", "pvt_referred_before")}
                    return None
                before = [h for h in doc.get("pvt_referred_before") or [] if isinstance(h, dict)]
                if isinstance(previous, str):
                    before.append({"agent": previous, "from": doc.get("pvt_referred_from"), "until": start})
                fields = {"pvt_referred_by": agent_id, "pvt_referred_from": start, "pvt_referred_before": before}
                return {**doc, **fields}

            if db.update(account_id, change) is None:
                return fields
        return fields
