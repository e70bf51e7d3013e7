"""The consumers due for a drain: each at most once, earliest due first, some delayed (retry backoff, rechecks)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time

from .consumer import Consumer


class DrainQueue:
    """A delay queue of consumers. `put` of a consumer already queued keeps the earlier of the two due times (the
    drain will see it all), except that a consumer waiting out a failure's backoff keeps waiting; `consumer.queued`
    holds its due time while it is queued, else None."""

    def __init__(self):
        self._heap: list[tuple[float, int, Consumer]] = []  # with stale entries: a due time since moved earlier
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, consumer: Consumer, delay: float = 0.0) -> None:
        with self._cond:
            due = time.monotonic() + delay
            if self._closed or (consumer.queued is not None and (consumer.queued <= due or consumer.failures)):
                return
            self._size += consumer.queued is None
            consumer.queued = due
            heapq.heappush(self._heap, (due, next(self._order), consumer))
            self._cond.notify()

    def get(self) -> Consumer | None:
        """The next due consumer, waiting for one; None once closed."""
        with self._cond:
            while not self._closed:
                while self._heap and self._heap[0][2].queued != self._heap[0][0]:
                    heapq.heappop(self._heap)  # stale
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    consumer = heapq.heappop(self._heap)[2]
                    consumer.queued = None
                    self._size -= 1
                    return consumer
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
