"""Invoice numbers per reseller: gapless and sequential per year, `PREFIX-YYYY-000123`.

One counter document per year in the reseller's account DB, `bookkeeper_invoice_counter-YYYY`, holds `last` and
`pending`: the numbers taken but not yet known to be on a saved invoice, by claimant (`<account>/<invoice id>`).
Taking a number and recording who took it is one write, guarded by `_rev` (`Database.update`: conflicts are
retried), so concurrent generators never share a number. A generator that crashed before saving its invoice finds
its pending number and uses it on the next attempt, so a crash leaves neither a gap nor a duplicate; once the
invoice (which carries its number for good) is saved, the claim is released.
"""

from __future__ import annotations

from ..couch import Database

COUNTER_PREFIX = "bookkeeper_invoice_counter-"
COUNTER_TYPE = "bookkeeper_invoice_counter"


def counter_id(year: int) -> str:
    return f"{COUNTER_PREFIX}{year:04d}"


def format_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year:04d}-{sequence:06d}"


def claim(db: Database, year: int, claimant: str) -> int:
    """The sequence number of `claimant` in `year`: its pending one, else the next, recorded in the same write."""
    taken: list[int] = []

    def change(doc: dict | None) -> dict | None:
        doc = doc or {"pvt_type": COUNTER_TYPE, "year": year, "last": 0, "pending": {}}
        pending = doc.setdefault("pending", {})
        taken[:] = [int(pending[claimant])] if claimant in pending else [int(doc["last"]) + 1]
        if claimant in pending:
            return None
        doc["last"] = pending[claimant] = taken[0]
        return doc

    db.update(counter_id(year), change)
    return taken[0]


def release(db: Database, year: int, claimant: str) -> None:
    """Forget `claimant`'s pending number once its invoice is saved (a no-op if it has none)."""

    def change(doc: dict | None) -> dict | None:
        if doc is None or claimant not in doc.get("pending", {}):
            return None
        del doc["pending"][claimant]
        return doc

    db.update(counter_id(year), change)
