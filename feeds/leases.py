"""Sharing accounts among N daemons by leases kept as documents in the bookkeeper DB; no other coordinator.

Keys (account ids, or a shared database's name) hash into `buckets` buckets. Each bucket has a lease document
`lease-bucket:NN` (owner, expiry); each worker has a heartbeat document `lease-worker:<id>`. A renewal, every
few seconds, writes the worker's heartbeat, counts the live workers, and then in one `_bulk_docs` renews the
worker's leases up to its fair share (ceil(buckets / live workers)), releases the excess and takes free or
expired buckets. Every write carries the `_rev` it read, so a conflict means another worker won that bucket.
Correctness never depends on leases (charges have deterministic ids): they only avoid duplicate work.
Expiries are wall-clock seconds, so workers' clocks must agree to well within the TTL.

Lease and heartbeat documents are in a database others may write, so they are validated, never trusted: an
expiry that is not a number counts as expired, and no expiry counts for longer than one TTL after this worker
first saw that revision of the document (a ghost worker's far-future heartbeat or lease, never renewed, expires
like any other). `unserved()` names the buckets that no live worker has held for longer than a TTL.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Callable

from bookkeeper.couch import Database

log = logging.getLogger(__name__)

LEASE_PREFIX = "lease-bucket:"
WORKER_PREFIX = "lease-worker:"
DOC_TYPE = "bookkeeper_lease"


def bucket_of(key: str, buckets: int) -> int:
    """Stable across processes and machines (unlike `hash`)."""
    return zlib.crc32(key.encode()) % buckets


def fair_share(buckets: int, live_workers: int) -> int:
    return math.ceil(buckets / max(1, live_workers))


class Leases:
    """This worker's leases. `owns(key)` is True only while the bucket's lease is held and unexpired."""

    def __init__(
        self,
        db: Database,
        worker_id: str,
        *,
        buckets: int = 64,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.time,
    ):
        self.db, self.worker_id, self.buckets, self.ttl, self.clock = db, worker_id, buckets, ttl, clock
        self._held: dict[int, float] = {}  # bucket -> expiry
        self._lock = threading.Lock()
        self._heartbeat_rev: str | None = None
        self._seen: dict[str, tuple[str | None, float]] = {}  # lease or heartbeat id -> (its _rev, when first seen)
        self._unserved: dict[int, float] = {}  # bucket held by no live worker -> since when

    def owns(self, key: str) -> bool:
        with self._lock:
            return self._held.get(bucket_of(key, self.buckets), 0.0) > self.clock()

    def held(self) -> set[int]:
        now = self.clock()
        with self._lock:
            return {b for b, expires in self._held.items() if expires > now}

    def renew(self) -> set[int]:
        """One round: heartbeat, count live workers, renew/release/take leases. Returns the buckets held."""
        now = self.clock()
        expires = now + self.ttl
        self._beat(expires)
        share = fair_share(self.buckets, len(self.live_workers(now)))
        ids = [f"{LEASE_PREFIX}{b:04d}" for b in range(self.buckets)]
        current = {row["key"]: row.get("doc") for row in self.db.all_docs(keys=ids, include_docs=True)}
        mine = [b for b, i in enumerate(ids) if (current.get(i) or {}).get("owner") == self.worker_id]
        free = [b for b, i in enumerate(ids) if b not in mine and self._expiry(current.get(i), now) <= now]
        random.shuffle(free)  # workers taking at once mostly pick different buckets
        keep, release = mine[:share], mine[share:]
        take = free[: max(0, share - len(keep))]
        docs = [_lease(ids[b], current.get(ids[b]), self.worker_id, expires) for b in keep + take]
        docs += [_lease(ids[b], current.get(ids[b]), None, 0) for b in release]
        results = self.db.bulk_docs(docs)
        won = {b: expires for b in keep + take if results.get(ids[b], {}).get("ok")}
        others = {
            b for b, i in enumerate(ids) if b not in mine and b not in won and self._expiry(current.get(i), now) > now
        }
        with self._lock:
            lost = set(self._held) - set(won)
            gained = set(won) - set(self._held)
            self._held = won
            self._unserved = {
                b: self._unserved.get(b, now) for b in range(self.buckets) if b not in won and b not in others
            }
        if lost or gained:
            log.info(
                "leases of %s: %d held (share %d), gained %s, lost %s",
                self.worker_id,
                len(won),
                share,
                sorted(gained),
                sorted(lost),
            )
        return set(won)

    def live_workers(self, now: float | None = None) -> set[str]:
        now = self.clock() if now is None else now
        rows = self.db.all_docs(startkey=WORKER_PREFIX, endkey=WORKER_PREFIX + "\ufff0", include_docs=True)
        return {
            r["doc"]["owner"]
            for r in rows
            if r.get("doc") and isinstance(r["doc"].get("owner"), str) and self._expiry(r["doc"], now) > now
        }

    def unserved(self) -> list[int]:
        """Buckets that no live worker has held for longer than a TTL (as of this worker's last round)."""
        now = self.clock()
        with self._lock:
            return sorted(b for b, since in self._unserved.items() if now - since > self.ttl)

    def _expiry(self, doc: dict | None, now: float) -> float:
        """When a lease or heartbeat document expires: 0 if it has no owner or its expiry is not a number; at
        most one TTL after this worker first saw its revision."""
        if not doc or not isinstance(doc.get("owner"), str) or not doc["owner"]:
            return 0.0
        expires = doc.get("expires")
        if isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires != expires:
            return 0.0
        rev, first_seen = self._seen.get(doc["_id"], (None, now))
        if rev != doc.get("_rev"):
            first_seen = now
            self._seen[doc["_id"]] = (doc.get("_rev"), now)
        return min(float(expires), first_seen + self.ttl)

    def release(self) -> None:
        """Give every lease and the heartbeat up at once (graceful stop): the others take over without waiting."""
        with self._lock:
            held, self._held = self._held, {}
        ids = [f"{LEASE_PREFIX}{b:04d}" for b in held]
        if ids:
            current = self.db.get_many(ids)
            self.db.bulk_docs(
                [_lease(i, current[i], None, 0) for i in ids if current.get(i, {}).get("owner") == self.worker_id]
            )
        self._beat(0)

    def _beat(self, expires: float) -> None:
        """Write this worker's heartbeat: ours alone, so a conflict only means a previous run of this worker id
        left one, whose revision is adopted (`Database.update` reads it)."""
        doc = {"pvt_type": DOC_TYPE, "owner": self.worker_id, "expires": expires}
        known = {"_id": WORKER_PREFIX + self.worker_id, "_rev": self._heartbeat_rev} if self._heartbeat_rev else None
        written = self.db.update(WORKER_PREFIX + self.worker_id, lambda _: doc, current=known)
        self._heartbeat_rev = written["_rev"] if written else None


def _lease(doc_id: str, current: dict | None, owner: str | None, expires: float) -> dict:
    doc = {"_id": doc_id, "pvt_type": DOC_TYPE, "owner": owner, "expires": expires}
    if current is not None:
        doc["_rev"] = current["_rev"]
    return doc
