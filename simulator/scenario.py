"""A simulation scenario (docs/contracts.md), validated: every error names the file and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bookkeeper.charging.commissions import agent_terms
from bookkeeper.errors import InputError
from bookkeeper.plans import load_plan
from bookkeeper.settings import billing_settings_from_doc

EVENT_KINDS = ("create", "delete", "update", "limits", "credit", "debit", "correct")
TOP_KEYS = ("start", "until", "dialect", "resellers", "accounts", "events")
RESELLER_KEYS = ("settings", "plans")
ACCOUNT_KEYS = (
    "parent",
    "plans",
    "balance",
    "docs",
    "limits",
    "trial_expires",
    "reseller",
    "name",
    "agent",
    "referred_by",
)
EVENT_KEYS = ("at", "account", "count", "reason", *EVENT_KINDS)


@dataclass(frozen=True)
class Reseller:
    label: str
    settings: dict
    plans: dict[str, dict]


@dataclass(frozen=True)
class AccountSpec:
    label: str
    parent: str
    plans: tuple[str, ...]
    balance: Decimal
    docs: tuple[dict, ...]
    limits: dict | None
    trial_expires: datetime | None
    reseller: bool
    name: str
    agent: dict | None = None
    referred_by: str | None = None


MASTER = AccountSpec("master", "", (), Decimal(0), (), None, None, True, "Master")


@dataclass(frozen=True)
class Event:
    index: int
    at: datetime
    account: str
    kind: str
    body: Any
    count: int = 1
    reason: str | None = None


@dataclass(frozen=True)
class Scenario:
    source: str
    start: datetime
    until: datetime
    dialect: str
    resellers: dict[str, Reseller]
    accounts: dict[str, AccountSpec]
    events: tuple[Event, ...] = field(default=())

    def spec(self, label: str) -> AccountSpec:
        """An account's spec; the master is implied when the scenario does not list it."""
        return self.accounts.get(label) or MASTER

    def order(self) -> list[str]:
        """Labels with every parent before its children, `master` first."""
        done: list[str] = ["master"]
        pending = [a for a in self.accounts if a != "master"]
        while pending:
            ready = [a for a in pending if self.accounts[a].parent in done]
            if not ready:
                raise InputError(self.source, f"accounts.{pending[0]}.parent", "parents form a cycle")
            done += ready
            pending = [a for a in pending if a not in ready]
        return done


def _time(value: Any, source: str, where: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(source, where, f"not an ISO-8601 time: {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(source, where, f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise InputError(source, where, f"give a time zone (e.g. Z): {value!r}")
    return moment.astimezone(UTC)


def _amount(value: Any, source: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InputError(source, where, f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InputError(source, where, f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise InputError(source, where, f"must be a number ≥ 0: {value!r}")
    return amount


def _object(value: Any, source: str, where: str, keys: tuple[str, ...] | None = None) -> dict:
    """`value` as an object; with `keys`, a key it does not know is an error."""
    if not isinstance(value, dict):
        raise InputError(source, where, f"must be an object, got {type(value).__name__}")
    unknown = [k for k in value if k not in keys] if keys is not None else []
    if keys is not None and unknown:
        raise InputError(
            source,
            f"{where}.{unknown[0]}" if where != "(top level)" else unknown[0],
            f"unknown key; known: {', '.join(keys)}",
        )
    return value


def load_scenario(path: str | Path) -> Scenario:
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(), parse_float=Decimal)
    except OSError as exc:
        raise InputError(source, None, f"cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(source, None, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_scenario(data, source)


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    data = _object(data, source, "(top level)", TOP_KEYS)
    start = _time(data.get("start"), source, "start")
    until = _time(data.get("until"), source, "until")
    if until <= start:
        raise InputError(source, "until", "must be after start")
    dialect = str(data.get("dialect", "4.3"))
    if dialect not in ("4.2", "4.3"):
        raise InputError(source, "dialect", f"must be 4.2 or 4.3, got {dialect!r}")

    resellers = {}
    for label, spec in _object(data.get("resellers", {}), source, "resellers").items():
        spec = _object(spec, source, f"resellers.{label}", RESELLER_KEYS)
        settings = _object(spec.get("settings", {}), source, f"resellers.{label}.settings")
        try:
            billing_settings_from_doc(settings, where=source)
        except InputError as exc:
            raise InputError(source, f"resellers.{label}.settings.{exc.field}", exc.problem) from None
        plan_docs = _object(spec.get("plans", {}), source, f"resellers.{label}.plans")
        for plan_id, plan in plan_docs.items():
            try:
                load_plan(_object(plan, source, f"resellers.{label}.plans.{plan_id}"), where=plan_id)
            except InputError as exc:
                raise InputError(source, f"resellers.{label}.plans.{plan_id}.{exc.field}", exc.problem) from None
        resellers[label] = Reseller(label, settings, plan_docs)
    if "master" not in resellers:
        resellers["master"] = Reseller("master", {}, {})

    accounts: dict[str, AccountSpec] = {}
    raw_accounts = _object(data.get("accounts", {}), source, "accounts")
    for label, spec in raw_accounts.items():
        where = f"accounts.{label}"
        spec = _object(spec, source, where, ACCOUNT_KEYS)
        parent = "" if label == "master" else spec.get("parent", "master")
        if parent not in ("", "master") and parent not in raw_accounts:
            raise InputError(source, f"{where}.parent", f"unknown account label {parent!r}")
        reseller = bool(spec.get("reseller", False))
        if reseller and label not in resellers:
            raise InputError(source, f"{where}.reseller", f"a reseller needs its own entry resellers.{label}")
        plans = spec.get("plans", [])
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            raise InputError(source, f"{where}.plans", "must be a list of plan ids")
        docs = spec.get("docs", [])
        if not isinstance(docs, list):
            raise InputError(source, f"{where}.docs", "must be a list of documents")
        for i, doc in enumerate(docs):
            _object(doc, source, f"{where}.docs[{i}]")
        limits = spec.get("limits")
        if limits is not None:
            _object(limits, source, f"{where}.limits")
        trial = spec.get("trial_expires")
        agent = spec.get("agent")
        if agent is not None:
            try:
                agent_terms({"pvt_agent": _object(agent, source, f"{where}.agent", ("levels", "categories"))}, source)
            except InputError as exc:
                raise InputError(
                    source, f"{where}.agent{(exc.field or '').removeprefix('pvt_agent')}", exc.problem
                ) from None
        referred_by = spec.get("referred_by")
        if referred_by is not None and (
            referred_by not in raw_accounts
            or referred_by == label
            or not isinstance(raw_accounts[referred_by], dict)
            or raw_accounts[referred_by].get("agent") is None
        ):
            raise InputError(source, f"{where}.referred_by", f"not the label of another agent account: {referred_by!r}")
        accounts[label] = AccountSpec(
            label,
            parent,
            tuple(plans),
            _amount(spec.get("balance", 0), source, f"{where}.balance"),
            tuple(docs),
            limits,
            None if trial is None else _time(trial, source, f"{where}.trial_expires"),
            reseller,
            str(spec.get("name", label)),
            agent,
            referred_by,
        )
    for label, spec in accounts.items():
        if spec.plans:
            vendor = billing_reseller(label, accounts)
            missing = [p for p in spec.plans if p not in resellers[vendor].plans]
            if missing:
                raise InputError(
                    source, f"accounts.{label}.plans", f"plan {missing[0]!r} is not among resellers.{vendor}.plans"
                )

    events = []
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list):
        raise InputError(source, "events", "must be a list")
    for i, raw in enumerate(raw_events):
        where = f"events[{i}]"
        raw = _object(raw, source, where, EVENT_KEYS)
        at = _time(raw.get("at"), source, f"{where}.at")
        if at < start:
            raise InputError(source, f"{where}.at", f"{raw['at']} is before start {data['start']}")
        if at >= until:
            raise InputError(source, f"{where}.at", f"{raw['at']} is not before until {data['until']}")
        account = raw.get("account")
        if account not in accounts and account != "master":
            raise InputError(source, f"{where}.account", f"unknown account label {account!r}")
        kinds = [k for k in EVENT_KINDS if k in raw]
        if len(kinds) != 1:
            raise InputError(source, where, f"needs exactly one of {', '.join(EVENT_KINDS)}")
        kind = kinds[0]
        body = raw[kind]
        if kind in ("credit", "debit"):
            body = _amount(body, source, f"{where}.{kind}")
        elif kind == "correct":
            body = {"type": "debit", **_object(body, source, f"{where}.correct", ("kind", "type", "amount"))}
            if not isinstance(body.get("kind"), str):
                raise InputError(source, f"{where}.correct.kind", "the kind of the entry to correct is required")
            if body["type"] not in ("credit", "debit"):
                raise InputError(source, f"{where}.correct.type", f"must be credit or debit, got {body['type']!r}")
            if "amount" in body:
                body["amount"] = _amount(body["amount"], source, f"{where}.correct.amount")
        elif kind == "update":
            body = _object(body, source, f"{where}.update")
            _object(body.get("match"), source, f"{where}.update.match")
            _object(body.get("set"), source, f"{where}.update.set")
        else:
            body = _object(body, source, f"{where}.{kind}")
        count = raw.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(source, f"{where}.count", f"must be a whole number ≥ 1, got {count!r}")
        events.append(Event(i, at, account, kind, body, count, raw.get("reason")))
    events.sort(key=lambda e: (e.at, e.index))
    return Scenario(source, start, until, dialect, resellers, accounts, tuple(events))


def billing_reseller(label: str, accounts: dict[str, AccountSpec]) -> str:
    """The label of the reseller that bills `label`: the nearest reseller ancestor, else master."""
    parent = accounts[label].parent if label in accounts else ""
    while parent and parent != "master":
        if accounts[parent].reseller:
            return parent
        parent = accounts[parent].parent
    return "master"
