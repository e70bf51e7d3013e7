"""KAZOO's two JSON deep merges (`kz_json:merge/2`, `kz_json:merge_recursive/2`, docs/kazoo.md). Right side wins.

Both recurse into objects on both sides and delete a key whose right-hand value is null. They differ on an empty
object on the right: `merge` lets it replace the left value, `merge_recursive` merges nothing into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _deep(left: Any, right: Any, empty_replaces: bool) -> Any:
    if not (isinstance(left, Mapping) and isinstance(right, Mapping)):
        return right
    if not right and empty_replaces:
        return {}
    out = dict(left)
    for key, value in right.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = _deep(out[key], value, empty_replaces)
        else:
            out[key] = _deep({}, value, empty_replaces) if isinstance(value, Mapping) else value
    return out


def merge(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """`kz_json:merge(Left, Right)`: deep merge, right wins, `{}` on the right replaces."""
    merged: dict[str, Any] = _deep(left, right, empty_replaces=True)
    return merged


def merge_recursive(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """`kz_json:merge_recursive(Left, Right)`: deep merge, right wins, `{}` on the right changes nothing."""
    merged: dict[str, Any] = _deep(left, right, empty_replaces=False)
    return merged
