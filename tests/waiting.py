"""Waiting for something the server or a daemon does in its own time."""

from __future__ import annotations

import time


def wait_until(check, timeout: float = 10.0, every: float = 0.05, what: str | None = None):
    """Poll `check()` until it is truthy; its last value, or an AssertionError after `timeout` seconds naming
    `what` (else `check`'s docstring, if it has one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout:.1f}s: {what or getattr(check, '__doc__', None) or check}")
        time.sleep(every)
