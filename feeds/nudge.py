"""Evaluations asked for out of band (a payment arrived): queued, and run one at a time off the caller's thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Nudger:
    """`nudge(account_id)` returns at once; a worker thread calls `evaluate(account_id)` for each, in order."""

    def __init__(self, evaluate: Callable[[str], object]):
        self._evaluate = evaluate
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="nudger", daemon=True)

    def start(self) -> Nudger:
        self._thread.start()
        return self

    def nudge(self, account_id: str) -> None:
        self._queue.put(account_id)

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (account_id := self._queue.get()) is not None:
            try:
                self._evaluate(account_id)
            except Exception:  # the daemon's tick evaluates it again later; one failure must not stop the queue
                log.exception("evaluation of %s after a credit failed", account_id)
