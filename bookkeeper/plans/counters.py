"""Custom billable counters (beyond KAZOO): plan categories whose quantities come from a view the reseller names.

A reseller's settings may hold, for example:

    "billable_counters": [
      {"category": "cameras", "view": "cameras/by_recording_days", "item": "{0}_days", "group_level": 1}
    ]

The reseller installs `_design/cameras` (map: `emit([doc.recording_days], 1)` for its camera documents, reduce
`_count` or `_sum`) in its customers' account DBs. The billing layer queries that view with `query_params()` and
`counter_quantities` turns the rows into `{"cameras": {"30_days": 4, "90_days": 1}}`, which plans price like any
KAZOO category (`plan.cameras.30_days.rate`, or `plan.cameras._all`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .models import shown

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_FIELD = re.compile(r"\{(\d+)\}")


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

    def item_name(self, key: Any) -> str:
        parts = key if isinstance(key, list) else [key]
        return _FIELD.sub(lambda m: str(parts[int(m.group(1))]) if int(m.group(1)) < len(parts) else "", self.item)


def load_counters(settings: Mapping, where: str) -> tuple[Counter, ...]:
    """Read `billable_counters` from a reseller's settings document."""
    entries = settings.get("billable_counters") or []
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


def counter_quantities(counter: Counter, rows: Iterable[Mapping]) -> dict[str, dict[str, int]]:
    """Reduced view rows -> `{category: {item: n}}`. Values must be whole numbers; non-positive ones are dropped."""
    items: dict[str, int] = {}
    for row in rows:
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise InputError(f"view {counter.ddoc}/{counter.view}", str(row.get("key")),
                             f"not a whole number: {shown(value)}")
        name = counter.item_name(row.get("key"))
        items[name] = items.get(name, 0) + int(value)
    kept = {name: n for name, n in items.items() if n > 0}
    return {counter.category: kept} if kept else {}
