"""Invalid documents and the accounts they hold, each reported once.

One rule for a bad document (a plan, a services, account or device document, a reseller's `configs_bookkeeper`):
only the accounts that depend on it are held (not billed) and every other account goes on. An invalid settings
document whose reseller had valid settings before is not a hold: the last valid settings keep serving. Each
problem is reported once, when it appears or its reason changes (a WARNING line naming the document, the field and
the accounts, and one count of the `invalid_documents` metric), and once more when it clears (an INFO line), never
on every retry. `snapshot()` is what `/health` shows.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("bookkeeper.holds")


class Holds:
    """The held accounts ({account: reason}) and the settings documents served by their last valid version
    ({document: reason}). `metrics` (optional) has `count(name)`."""

    def __init__(self, metrics=None):
        self.metrics = metrics
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}
        self._stale: dict[str, str] = {}

    def hold(self, account_id: str, reason: str) -> None:
        """The account is not billed because of `reason` (an invalid document it depends on)."""
        if self._put(self._held, account_id, reason) and self.metrics is not None:
            log.warning("account %s held, not billed: %s", account_id, reason)

    def release(self, account_id: str) -> None:
        """The account was evaluated again: no longer held."""
        if self._drop(self._held, account_id) and self.metrics is not None:
            log.info("account %s no longer held: billed again", account_id)

    def stale_settings(self, where: str, reason: str) -> None:
        """The settings document at `where` is invalid; its last valid version keeps serving."""
        if self._put(self._stale, where, reason) and self.metrics is not None:
            log.warning("invalid settings %s; its last valid settings keep serving", reason)

    def settings_valid(self, where: str) -> None:
        if self._drop(self._stale, where) and self.metrics is not None:
            log.info("settings %s valid again", where)

    def held(self) -> dict[str, str]:
        with self._lock:
            return dict(self._held)

    def snapshot(self) -> dict:
        with self._lock:
            return {"held": dict(self._held), "stale_settings": dict(self._stale)}

    def _put(self, table: dict[str, str], key: str, reason: str) -> bool:
        with self._lock:
            if table.get(key) == reason:
                return False
            table[key] = reason
        if self.metrics is not None:
            self.metrics.count("invalid_documents")
        return True

    def _drop(self, table: dict[str, str], key: str) -> bool:
        with self._lock:
            return table.pop(key, None) is not None
