"""Assigning plans to an account: pure edits of its services document (docs/kazoo.md), like KAZOO's `/services`.

4.3 keeps `plans.<plan_id> = {"vendor_id", "overrides"}`; 4.2 keeps `plans.<plan_id> = {"account_id", "overrides"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InputError


def assign(
    services: Mapping[str, Any],
    plan_id: str,
    vendor_id: str,
    overrides: Mapping[str, Any] | None = None,
    dialect: str = "4.3",
) -> dict[str, Any]:
    """The services doc with `plan_id` assigned from `vendor_id`; `overrides` replace the plan's old ones."""
    entry = dict((services.get("plans") or {}).get(plan_id) or {})
    entry["account_id" if dialect == "4.2" else "vendor_id"] = vendor_id
    if overrides is not None:
        entry["overrides"] = dict(overrides)
    return {**services, "plans": {**(services.get("plans") or {}), plan_id: entry}}


def unassign(services: Mapping[str, Any], plan_id: str, where: str) -> dict[str, Any]:
    """The services doc without `plan_id`; an error naming `where` if it was not assigned."""
    assigned = dict(services.get("plans") or {})
    if plan_id not in assigned:
        raise InputError(where, f"plans.{plan_id}", "not assigned")
    del assigned[plan_id]
    return {**services, "plans": assigned}
