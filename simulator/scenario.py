"""A simulation scenario (docs/contracts.md) as pydantic models: a key the format does not know is an error, and
every error is one line naming the file and the field (`scenario.json: events[3].count: ...`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bookkeeper.charging.commissions import agent_terms
from bookkeeper.errors import InputError, problem_of
from bookkeeper.plans import load_plan
from bookkeeper.settings import billing_settings_from_doc

EVENT_KINDS = ("create", "delete", "update", "limits", "credit", "debit", "correct")


def _problem(text: str, field: str | None = None) -> PydanticCustomError:
    """An error in the value being validated, or in its `field` (a path inside it, or from the top of the file
    for a check of the whole scenario)."""
    return PydanticCustomError("scenario", "{problem}", {"problem": text, "field": field})


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _problem(f"not an ISO-8601 time: {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _problem(f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise _problem(f"give a time zone (e.g. Z): {value!r}")
    return moment.astimezone(UTC)


def _amount(value: Any) -> Decimal | None:
    """An amount exactly as written: the file is read with JSON numbers as Decimal (a float, from a dict built in
    code, is taken by its shortest repr)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise _problem(f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _problem(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _problem(f"must be a number ≥ 0: {value!r}")
    return amount


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _problem(f"must be a whole number ≥ 1, got {value!r}")
    return value


def _dialect(value: Any) -> str:
    dialect = str(value)
    if dialect not in ("4.2", "4.3"):
        raise _problem(f"must be 4.2 or 4.3, got {dialect!r}")
    return dialect


Time = Annotated[datetime, PlainValidator(_time)]
OptionalTime = Annotated[datetime | None, PlainValidator(_time)]
Amount = Annotated[Decimal, PlainValidator(_amount)]
OptionalAmount = Annotated[Decimal | None, PlainValidator(_amount)]
Document = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reseller(_Strict):
    settings: Document = {}
    plans: dict[str, Document] = {}

    @field_validator("settings")
    @classmethod
    def _valid_settings(cls, doc: Document) -> Document:
        try:
            billing_settings_from_doc(doc, where="settings")
        except InputError as exc:
            raise _problem(exc.problem, exc.field) from None
        return doc

    @field_validator("plans")
    @classmethod
    def _valid_plans(cls, plans: dict[str, Document]) -> dict[str, Document]:
        for plan_id, plan in plans.items():
            try:
                load_plan(plan, where=plan_id)
            except InputError as exc:
                raise _problem(exc.problem, f"{plan_id}.{exc.field}" if exc.field else plan_id) from None
        return plans


class Agent(_Strict):
    """Written as the account's `pvt_agent` (docs/charging.md, Referral commissions)."""

    levels: Any = None
    categories: Any = None

    @model_validator(mode="after")
    def _valid_terms(self) -> Agent:
        try:
            agent_terms({"pvt_agent": self.document()}, "agent")
        except InputError as exc:
            raise _problem(exc.problem, (exc.field or "").removeprefix("pvt_agent").lstrip(".") or None) from None
        return self

    def document(self) -> Document:
        return self.model_dump(exclude_unset=True)


class Account(_Strict):
    parent: StrictStr = "master"
    plans: list[StrictStr] = []
    balance: Amount = Decimal(0)
    docs: list[Document] = []
    limits: Document | None = None
    trial_expires: OptionalTime = None
    reseller: StrictBool = False
    name: StrictStr = ""
    agent: Agent | None = None
    referred_by: StrictStr | None = None


MASTER = Account(parent="", reseller=True, name="Master")


class Update(_Strict):
    match: Document
    set: Document


class Correct(_Strict):
    kind: StrictStr
    type: Literal["credit", "debit"] = "debit"
    amount: OptionalAmount = None


class Event(_Strict):
    at: Time
    account: StrictStr
    count: Annotated[int, PlainValidator(_count)] = 1
    reason: StrictStr | None = None
    create: Document | None = None
    delete: Document | None = None
    update: Update | None = None
    limits: Document | None = None
    credit: OptionalAmount = None
    debit: OptionalAmount = None
    correct: Correct | None = None
    _index: int = PrivateAttr(default=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Event:
        if sum(getattr(self, kind) is not None for kind in EVENT_KINDS) != 1:
            raise _problem(f"needs exactly one of {', '.join(EVENT_KINDS)}")
        return self

    @property
    def index(self) -> int:
        """The event's position in the file's `events`."""
        return self._index

    @property
    def kind(self) -> str:
        return next(kind for kind in EVENT_KINDS if getattr(self, kind) is not None)

    @property
    def body(self) -> Any:
        return getattr(self, self.kind)


class Scenario(_Strict):
    start: Time
    until: Time
    dialect: Annotated[str, PlainValidator(_dialect)] = "4.3"
    resellers: dict[str, Reseller] = {}
    accounts: dict[str, Account] = {}
    events: list[Event] = []
    _source: str = PrivateAttr(default="scenario")
    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        """What the fields cannot check alone: labels that refer to others, times within the run."""
        if self.until <= self.start:
            raise _problem("must be after start", "until")
        self.resellers.setdefault("master", Reseller())
        for label, spec in self.accounts.items():
            where = f"accounts.{label}"
            spec.name = spec.name or label
            if label == "master":
                spec.parent = ""
            elif spec.parent != "master" and spec.parent not in self.accounts:
                raise _problem(f"unknown account label {spec.parent!r}", f"{where}.parent")
            if spec.reseller and label not in self.resellers:
                raise _problem(f"a reseller needs its own entry resellers.{label}", f"{where}.reseller")
            referrer = self.accounts.get(spec.referred_by or "")
            if spec.referred_by is not None and (referrer is None or referrer is spec or referrer.agent is None):
                raise _problem(f"not the label of another agent account: {spec.referred_by!r}", f"{where}.referred_by")
        self._order = self._parents_first()
        for label, spec in self.accounts.items():
            vendor = billing_reseller(label, self.accounts)
            missing = [p for p in spec.plans if p not in self.resellers[vendor].plans]
            if missing:
                raise _problem(f"plan {missing[0]!r} is not among resellers.{vendor}.plans", f"accounts.{label}.plans")
        for i, event in enumerate(self.events):
            event._index = i
            if event.at < self.start:
                raise _problem(f"{_iso(event.at)} is before start {_iso(self.start)}", f"events[{i}].at")
            if event.at >= self.until:
                raise _problem(f"{_iso(event.at)} is not before until {_iso(self.until)}", f"events[{i}].at")
            if event.account not in self.accounts and event.account != "master":
                raise _problem(f"unknown account label {event.account!r}", f"events[{i}].account")
        self.events.sort(key=lambda e: (e.at, e.index))
        return self

    def _parents_first(self) -> list[str]:
        done: list[str] = ["master"]
        pending = [a for a in self.accounts if a != "master"]
        while pending:
            ready = [a for a in pending if self.accounts[a].parent in done]
            if not ready:
                raise _problem("parents form a cycle", f"accounts.{pending[0]}.parent")
            done += ready
            pending = [a for a in pending if a not in ready]
        return done

    @property
    def source(self) -> str:
        """The file the scenario came from, as errors name it."""
        return self._source

    def spec(self, label: str) -> Account:
        """An account's spec; the master is implied when the scenario does not list it."""
        return self.accounts.get(label) or MASTER

    def order(self) -> list[str]:
        """Labels with every parent before its children, `master` first."""
        return list(self._order)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


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
    """`data` (a scenario file's JSON) validated; an error names `source` and the field's path."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        error = err.errors(include_url=False)[0]
        loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        path = ".".join(part for part in (loc.lstrip("."), (error.get("ctx") or {}).get("field")) if part)
        raise InputError(source, path or None, problem_of(error)) from None
    scenario._source = source
    return scenario


def billing_reseller(label: str, accounts: dict[str, Account]) -> str:
    """The label of the reseller that bills `label`: the nearest reseller ancestor, else master."""
    parent = accounts[label].parent if label in accounts else ""
    while parent and parent != "master":
        if accounts[parent].reseller:
            return parent
        parent = accounts[parent].parent
    return "master"
