"""Invoice numbers per reseller: gapless and sequential per year, `PREFIX-YYYY-000123`.

One counter document per year in the reseller's account DB, `bookkeeper_invoice_counter-YYYY`, holds `last` and
`pending`: the numbers taken but not yet known to be on a saved invoice, by claimant (`<account>/<invoice id>`).
Taking a number and recording who took it is one write, guarded by `_rev` (conflicts are retried), so concurrent
generators never share a number. A generator that crashed before saving its invoice finds its pending number and
uses it on the next attempt, so a crash leaves neither a gap nor a duplicate; once the invoice (which carries its
number for good) is saved, the claim is released.
"""

from __future__ import annotations

import random
import time

from ..couch import Conflict, Database

COUNTER_PREFIX = "bookkeeper_invoice_counter-"
COUNTER_TYPE = "bookkeeper_invoice_counter"
ATTEMPTS = 100


def counter_id(year: int) -> str:
    return f"{COUNTER_PREFIX}{year:04d}"


def format_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year:04d}-{sequence:06d}"


def claim(db: Database, year: int, claimant: str) -> int:
    """The sequence number of `claimant` in `year`: its pending one, else the next, recorded in the same write."""
    for attempt in range(ATTEMPTS):
        doc = db.get_or_none(counter_id(year)) or {
            "_id": counter_id(year),
            "pvt_type": COUNTER_TYPE,
            "year": year,
            "last": 0,
            "pending": {},
        }
        pending = doc.setdefault("pending", {})
        if claimant in pending:
            return int(pending[claimant])
        doc["last"] = int(doc["last"]) + 1
        pending[claimant] = doc["last"]
        try:
            db.put(doc)
            return doc["last"]
        except Conflict:
            time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))
    raise Conflict(
        409, "conflict", f"invoice counter kept changing after {ATTEMPTS} attempts", f"{db.name}/{counter_id(year)}"
    )


def release(db: Database, year: int, claimant: str) -> None:
    """Forget `claimant`'s pending number once its invoice is saved (a no-op if it has none)."""
    for _ in range(ATTEMPTS):
        doc = db.get_or_none(counter_id(year))
        if doc is None or claimant not in doc.get("pending", {}):
            return
        del doc["pending"][claimant]
        try:
            db.put(doc)
            return
        except Conflict:
            time.sleep(random.uniform(0, 0.01))
    raise Conflict(409, "conflict", "invoice counter kept changing", f"{db.name}/{counter_id(year)}")
