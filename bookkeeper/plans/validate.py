"""Loading plans and quantities from JSON-shaped data, with one-line errors naming the document and the field."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, problem_of, shown
from .models import ServicePlan

Quantities = dict[str, dict[str, int]]


def _first_error(err: ValidationError) -> tuple[str, str]:
    error = err.errors(include_url=False)[0]
    return ".".join(str(part) for part in error["loc"] if part != "[key]"), problem_of(error)


def load_plan(doc: Any, where: str | None = None) -> ServicePlan:
    """Validate a service plan document. `where` names it in errors (default: its `_id`)."""
    where = where or (doc.get("_id") if isinstance(doc, Mapping) else None) or "plan"
    if not isinstance(doc, Mapping):
        raise InputError(where, None, f"not an object: {shown(doc)}")
    try:
        return ServicePlan.model_validate(doc)
    except ValidationError as err:
        raise InputError(where, *_first_error(err)) from None


def validate_plan_document(doc: Any, where: str | None = None) -> ServicePlan:
    """`load_plan`, and what KAZOO's `service_plans` schema requires besides: a `name` of 1 to 128 characters and
    a `plan` object. Quantities (`{category: {item: n}}`) given as a plan are named as such."""
    plan = load_plan(doc, where)
    where = where or plan.id or "plan"
    if "plan" not in doc:
        looks_like = doc and all(
            isinstance(v, Mapping) and all(isinstance(n, (int, float, Decimal)) for n in v.values())
            for v in doc.values()
        )
        raise InputError(
            where,
            "plan",
            "missing"
            + ("; this looks like quantities {category: {item: n}}, not a service plan" if looks_like else ""),
        )
    if not isinstance(plan.name, str) or not 1 <= len(plan.name) <= 128:
        raise InputError(where, "name", "missing" if "name" not in doc else "must be 1 to 128 characters")
    return plan


def load_quantities(data: Any, where: str) -> Quantities:
    """Validate `{category: {item: n}}` with whole, non-negative n."""
    if not isinstance(data, Mapping):
        raise InputError(where, None, f"not an object: {shown(data)}")
    out: Quantities = {}
    for category, items in data.items():
        if not isinstance(items, Mapping):
            raise InputError(where, category, f"not an object: {shown(items)}")
        for item, n in items.items():
            field = f"{category}.{item}"
            if isinstance(n, bool) or not isinstance(n, (int, float, Decimal)):
                raise InputError(where, field, f"not a number: {shown(n)}")
            if n < 0:
                raise InputError(where, field, f"negative quantity: {shown(n)}")
            if n != int(n):
                raise InputError(where, field, f"not a whole number: {shown(n)}")
            out.setdefault(category, {})[item] = int(n)
    return out
