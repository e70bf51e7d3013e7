"""Merging the plans assigned to an account into one plan per bookkeeper (docs/kazoo.md).

4.3 (`kz_services_plans:merge/1`): overrides are deep-merged over each whole plan document (global, then the
plan's own); plans are grouped by bookkeeper, one merged plan (one invoice) per group; inside a group by
`merge.strategy`, groups merged low→high strategy priority; inside a strategy plans merged by ascending
`merge.priority`, a plan without a priority last (Erlang sorts the atom `undefined` after every integer).
Equal priorities keep the given order, the later plan winning (KAZOO's order there comes from a hash table).

`dialect="4.2"` (`kz_service_plans:merge_plan/2`): overrides are category-level (`{"devices": {...}}`); one group
per vendor; priorities simple 25 / cumulative 50; `simple` folds plans by descending priority so the lowest wins;
plans without a strategy are not merged with each other; at the end items are keyed by (category, `as` or item
name) and a later plan's item replaces an earlier one of the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .jsonmerge import merge, merge_recursive
from .models import ServicePlan
from .validate import load_plan

PRIORITIES = {"4.3": {"simple": 10, "recursive": 25, "cumulative": 50}, "4.2": {"simple": 25, "cumulative": 50}}
DEFAULT_BOOKKEEPER = {"id": "default_bookkeeper", "type": "default"}


@dataclass(frozen=True)
class MergedPlan:
    """The merged plan of one bookkeeper group; `plan.id` is KAZOO's "single"."""

    plan: ServicePlan
    bookkeeper: dict[str, str]
    plan_ids: tuple[str, ...]

    @property
    def bookkeeper_hash(self) -> str:
        """KAZOO's invoice key: md5(id ++ type ++ vendor_id)."""
        bk = self.bookkeeper
        return hashlib.md5(f"{bk['id']}{bk['type']}{bk.get('vendor_id') or ''}".encode()).hexdigest()


def _is_true(value: Any) -> bool:
    return value is True or value == "true"


def _find(values: Sequence[Any]) -> Any:
    return next((v for v in values if v is not None), None)


def _sum(values: Sequence[Any]) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _objects(values: Sequence[Any]) -> Any:
    """`cumulative_merge_object`: folded as `merge(next, acc)`, so the first (highest priority) wins."""
    acc = values[0]
    for value in values[1:]:
        acc = value if acc is None else merge(value or {}, acc)
    return acc


def _union(values: Sequence[Any]) -> list[Any] | None:
    present = [v for v in values if v is not None]
    return sorted({x for v in present for x in v}) if present else None


def _any(values: Sequence[Any]) -> bool | None:
    present = [v for v in values if v is not None]
    return any(_is_true(v) for v in present) if present else None


def _all(values: Sequence[Any]) -> bool | None:
    present = [v for v in values if v is not None]
    return all(_is_true(v) for v in present) if present else None


Combine = Callable[[Sequence[Any]], Any]

CUMULATIVE_SCHEME: tuple[tuple[tuple[str, ...], Combine], ...] = (
    (("activation_charge",), _find),
    (("minimum",), _sum),
    (("prorate", "additions"), _any),
    (("prorate", "removals"), _any),
    (("step",), _find),
    (("flat_rates",), _objects),
    (("flat_rate",), _find),
    (("rates",), _objects),
    (("rate",), _find),
    (("exceptions",), _union),
    (("cascade",), _any),
    (("as",), _find),
    (("name",), _find),
    (("discounts", "single", "rate"), _find),
    (("discounts", "single", "rates"), _objects),
    (("discounts", "cumulative", "rate"), _find),
    (("discounts", "cumulative", "rates"), _objects),
    (("discounts", "cumulative", "maximum"), _sum),
)
_SCHEME_42 = (*CUMULATIVE_SCHEME, (("enabled",), _all))


def _get(doc: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def cumulative_item(items: Sequence[Mapping[str, Any]], dialect: str = "4.3") -> dict[str, Any]:
    """`kzd_item_plan:cumulative_merge_scheme/0` over one item's plans, highest priority first.

    Only the scheme's fields survive (KAZOO rebuilds the item from them)."""
    out: dict[str, Any] = {}
    for path, combine in _SCHEME_42 if dialect == "4.2" else CUMULATIVE_SCHEME:
        value = combine([_get(item, path) for item in items])
        if value is not None:
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
    return out


def _priority(doc: Mapping[str, Any]) -> int | None:
    priority: int | None = (doc.get("merge") or {}).get("priority")
    return priority


def _by_priority(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """4.3: ascending, no priority last."""
    return sorted(docs, key=lambda d: (_priority(d) is None, _priority(d) or 0))


def _fold(
    docs: Sequence[Mapping[str, Any]], how: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for doc in docs:
        out = how(out, doc)
    return out


def _merge_strategy(strategy: str, docs: list[dict[str, Any]], dialect: str) -> dict[str, Any]:
    if dialect == "4.2" and strategy == "simple":
        return _fold(sorted(docs, key=lambda d: -(_priority(d) or 0)), merge)
    ordered = _by_priority(docs)
    merged = _fold(ordered, merge_recursive)
    if strategy == "simple":
        merged["plan"] = _fold([d.get("plan") or {} for d in ordered], merge)
    elif strategy == "cumulative":
        plan: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
        for doc in reversed(ordered):
            for category, items in (doc.get("plan") or {}).items():
                for name, item in items.items():
                    plan.setdefault(category, {}).setdefault(name, []).append(item)
        merged["plan"] = {c: {n: cumulative_item(v, dialect) for n, v in items.items()} for c, items in plan.items()}
    return merged


def _item_key(name: str, item: Mapping[str, Any]) -> str:
    key: str = item.get("as") or name
    return key


def _merge_42_items(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = _fold([{k: v for k, v in d.items() if k != "plan"} for d in docs], merge_recursive)
    plan: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for category, items in (doc.get("plan") or {}).items():
            merged = plan.setdefault(category, {})
            for name, item in items.items():
                for old in [k for k, v in merged.items() if _item_key(k, v) == _item_key(name, item)]:
                    del merged[old]
                merged[name] = item
    out["plan"] = plan
    return out


def _merge_group(docs: list[dict[str, Any]], dialect: str, priorities: Mapping[str, int]) -> dict[str, Any]:
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for doc in docs:
        strategy = (doc.get("merge") or {}).get("strategy")
        groups.setdefault(strategy or (None if dialect == "4.2" else "simple"), []).append(doc)
    ranked = sorted((s for s in groups if s is not None), key=lambda s: priorities.get(s, 0))
    merged = [_merge_strategy(s, groups[s], dialect) for s in ranked]
    if dialect == "4.2":
        return _merge_42_items(groups.get(None, []) + merged)
    return _fold(merged, merge_recursive)


def _with_overrides(
    plan: ServicePlan,
    mine: Mapping[str, Any],
    dialect: str,
    vendor_id: str | None,
    default_bookkeeper: Mapping[str, Any] | None,
) -> dict[str, Any]:
    doc = merge_recursive(plan.dump(), {"plan": mine} if dialect == "4.2" else mine)
    if dialect == "4.3":
        if isinstance(doc.get("bookkeeper"), Mapping) and not doc["bookkeeper"].get("vendor_id") and vendor_id:
            doc["bookkeeper"] = {**doc["bookkeeper"], "vendor_id": vendor_id}
        if default_bookkeeper:
            doc = merge_recursive({"bookkeeper": dict(default_bookkeeper)}, doc)
    return doc


def _bookkeeper(doc: Mapping[str, Any], dialect: str, vendor_id: str | None) -> dict[str, str]:
    given = (doc.get("bookkeeper") or {}) if dialect == "4.3" else {}
    out = {**DEFAULT_BOOKKEEPER, **{k: v for k, v in given.items() if k in ("id", "type", "vendor_id") and v}}
    if vendor_id and not out.get("vendor_id"):
        out["vendor_id"] = vendor_id
    return out


def merge_plans(
    plans: Sequence[ServicePlan],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    global_overrides: Mapping[str, Any] | None = None,
    *,
    dialect: str = "4.3",
    priorities: Mapping[str, int] | None = None,
    vendor_id: str | None = None,
    default_bookkeeper: Mapping[str, Any] | None = None,
    object_plans: Sequence[tuple[ServicePlan, Mapping[str, Any]]] = (),
) -> list[MergedPlan]:
    """Merge assigned plans as KAZOO does: one MergedPlan per bookkeeper group, in order of first appearance.

    `overrides` maps plan id -> that plan's overrides (`services.plans.<id>.overrides`); `global_overrides` is
    `services.overrides`; `priorities` replaces `system_config/services.merge_strategy_priority`;
    `default_bookkeeper` is the services doc's `bookkeeper` (a plan's own wins). `object_plans` are the plans
    documents of the account name for themselves (`service.plans`, 4.3 `kz_services_plans:get_object_plans/3`),
    each with its own overrides only, after the assigned ones."""
    if dialect not in PRIORITIES:
        raise ValueError(f"unknown dialect {dialect!r} (4.2, 4.3)")
    priorities = priorities or PRIORITIES[dialect]
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[dict[str, Any]], list[str]]] = {}
    entries = [
        (plan, merge_recursive(global_overrides or {}, (overrides or {}).get(plan.id or "") or {})) for plan in plans
    ] + [(plan, dict(own or {})) for plan, own in object_plans]
    for plan, mine in entries:
        doc = _with_overrides(plan, mine, dialect, vendor_id, default_bookkeeper)
        load_plan(doc, f"{plan.id or 'plan'} (with overrides)")
        bookkeeper = _bookkeeper(doc, dialect, vendor_id)
        key = tuple(sorted(bookkeeper.items()))
        groups.setdefault(key, (bookkeeper, [], []))
        groups[key][1].append(doc)
        groups[key][2].append(plan.id or "")
    out = []
    for bookkeeper, docs, ids in groups.values():
        merged = _merge_group(docs, dialect, priorities)
        merged["_id"] = "single"
        out.append(MergedPlan(load_plan(merged, "merged plan"), bookkeeper, tuple(ids)))
    return out
