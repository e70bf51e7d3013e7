"""The consumers due for a drain: each at most once, earliest due first, some delayed (retry backoff)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time

from .consumer import Consumer


class DrainQueue:
    """A delay queue of consumers; `put` of a consumer already queued is a no-op (the drain will see it all)."""

    def __init__(self):
        self._heap: list[tuple[float, int, Consumer]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, consumer: Consumer, delay: float = 0.0) -> None:
        with self._cond:
            if consumer.queued or self._closed:
                return
            consumer.queued = True
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), consumer))
            self._cond.notify()

    def get(self) -> Consumer | None:
        """The next due consumer, waiting for one; None once closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    consumer = heapq.heappop(self._heap)[2]
                    consumer.queued = False
                    return consumer
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
