"""Jittered exponential backoff: the one delay policy of every retry loop (CouchDB requests, change feeds)."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): base·2^(attempt-1), capped, jittered to 50–100%."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0)
