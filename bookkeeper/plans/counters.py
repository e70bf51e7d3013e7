"""Custom billable counters (beyond KAZOO): plan categories whose quantities come from a view the reseller names.

A reseller's settings may hold, for example:

    "billable_counters": [
      {"category": "cameras", "view": "cameras/by_recording_days", "item": "{0}_days", "group_level": 1}
    ]

The reseller installs `_design/cameras` (map: `emit([doc.recording_days], 1)` for its camera documents, reduce
`_count` or `_sum`) in its customers' account DBs. The billing layer queries that view with `query_params()` and
`counter_quantities` turns the rows into `{"cameras": {"30_days": 4, "90_days": 1}}`, which plans price like any
KAZOO category (`plan.cameras.30_days.rate`, or `plan.cameras._all`).

A counter that cannot be read is an error naming the account DB and the view, never a quantity of zero:
Only the counters whose category the account's plans price are read (`priced_counters`);
`check_view` refuses a missing design document or view and a reduce other than `_count`/`_sum`;
`counter_quantities` refuses a value that is not a whole number ≥ 0 and a key that gives no item name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, shown
from .merge import MergedPlan

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_FIELD = re.compile(r"\{(\d+)\}")
REDUCES = ("_count", "_sum")


@dataclass(frozen=True)
class Counter:
    """One custom counter: `category` is filled from `ddoc/view` rows; `item` formats key parts, `{0}` first."""

    category: str
    ddoc: str
    view: str
    item: str = "{0}"
    group_level: int = 1

    def query_params(self) -> dict[str, Any]:
        return {"reduce": True, "group_level": self.group_level}

    def item_name(self, key: Any) -> str | None:
        """The item a row key counts for; None if a part it names is missing or not a string or number."""
        parts = key if isinstance(key, list) else [key]

        def part(match: re.Match[str]) -> str:
            index = int(match.group(1))
            value = parts[index] if index < len(parts) else None
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise LookupError
            return str(int(value)) if isinstance(value, float) and value == int(value) else str(value)

        try:
            name = _FIELD.sub(part, self.item)
        except LookupError:
            return None
        return name if _NAME.match(name) else None


def load_counters(doc: Mapping[str, Any], where: str) -> tuple[Counter, ...]:
    """Read `billable_counters` from a reseller's settings document."""
    entries = doc.get("billable_counters") or []
    if not isinstance(entries, list):
        raise InputError(where, "billable_counters", f"not a list: {shown(entries)}")
    out = []
    for i, entry in enumerate(entries):
        field = f"billable_counters.{i}"
        if not isinstance(entry, Mapping):
            raise InputError(where, field, f"not an object: {shown(entry)}")
        category, view = entry.get("category"), entry.get("view")
        if not isinstance(category, str) or not _NAME.match(category):
            raise InputError(where, f"{field}.category", f"not a category name: {shown(category)}")
        if not isinstance(view, str) or view.count("/") != 1 or not all(_NAME.match(p) for p in view.split("/")):
            raise InputError(where, f"{field}.view", f'not "design/view": {shown(view)}')
        item = entry.get("item", "{0}")
        level = entry.get("group_level", 1)
        if not isinstance(item, str) or not item:
            raise InputError(where, f"{field}.item", f"not an item name pattern: {shown(item)}")
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise InputError(where, f"{field}.group_level", f"not a whole number: {shown(level)}")
        ddoc, name = view.split("/")
        out.append(Counter(category, ddoc, name, item, level))
    return tuple(out)


def priced_counters(counters: Iterable[Counter], merged: Iterable[MergedPlan]) -> tuple[Counter, ...]:
    """The counters whose category one of the account's merged plans prices (the others are not read: an account
    billed for no camera needs no camera view)."""
    categories = {category for m in merged for category in m.plan.plan}
    return tuple(c for c in counters if c.category in categories)


def check_view(counter: Counter, design: Mapping[str, Any] | None, where: str) -> None:
    """Refuse a counter whose view (in the design document `design`, None if missing, of the DB `where`) is
    missing or does not reduce with `_count` or `_sum`."""
    ddoc = f"{where}/_design/{counter.ddoc}"
    views = (design or {}).get("views")
    if design is None or design.get("_deleted"):
        raise InputError(ddoc, None, f"no such design document (counter {counter.category!r})")
    view = views.get(counter.view) if isinstance(views, Mapping) else None
    if not isinstance(view, Mapping):
        raise InputError(ddoc, f"views.{counter.view}", f"no such view (counter {counter.category!r})")
    if view.get("reduce") not in REDUCES:
        raise InputError(
            ddoc, f"views.{counter.view}.reduce", f"must be {' or '.join(REDUCES)}, got {shown(view.get('reduce'))}"
        )


def counter_quantities(
    counter: Counter, rows: Iterable[Mapping[str, Any]], where: str = ""
) -> dict[str, dict[str, int]]:
    """Reduced view rows -> `{category: {item: n}}`. Values must be whole numbers ≥ 0 (zeros are dropped) and
    keys must name an item; `where` (the DB) prefixes the view in errors."""
    items: dict[str, int] = {}
    view = f"{where}/_design/{counter.ddoc}/_view/{counter.view}".lstrip("/")
    for row in rows:
        value, key = row.get("value"), row.get("key")
        if isinstance(value, Mapping) and "error" in value:  # CouchDB reports a failed reduce in the row
            raise InputError(view, None, f"the view fails: {value.get('error')}: {value.get('reason')}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
            raise InputError(view, f"key {shown(key)}", f"not a whole number ≥ 0: {shown(value)}")
        name = counter.item_name(key)
        if name is None:
            raise InputError(view, f"key {shown(key)}", f"gives no item name for {counter.item!r}")
        items[name] = items.get(name, 0) + int(value)
    kept = {name: n for name, n in items.items() if n > 0}
    return {counter.category: kept} if kept else {}
