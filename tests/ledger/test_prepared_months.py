"""PreparedMonths: what the ledger remembers about monthly DBs (no I/O), and that the ledger's requests follow it."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

from bookkeeper.clock import SimulatedClock
from bookkeeper.dbnames import modb
from bookkeeper.ledger import Ledger
from bookkeeper.ledger.prepared import PreparedMonths

M = "account/ab/cd/efgh-202612"
NOW = datetime(2026, 6, 15, tzinfo=UTC)  # the `ledger` fixture's clock


def test_a_month_is_seen_designed_fresh_then_ready():
    months = PreparedMonths()
    assert not (months.seen(M) or months.designed(M) or months.fresh(M) or months.ready(M))
    months.design(M, created=True)
    assert months.seen(M) and months.designed(M) and months.fresh(M) and not months.ready(M)
    months.make_ready(M)
    assert months.ready(M) and not months.fresh(M)  # ready: its carry-forward is written or owed


def test_a_month_found_or_set_up_by_someone_else_is_never_fresh():
    months = PreparedMonths()
    months.see(M)
    assert months.seen(M) and not months.designed(M)
    months.design(M, created=False)
    assert months.designed(M) and not months.fresh(M)


def test_an_owed_carry_forward_is_settled_once_under_the_months_lock():
    months = PreparedMonths()
    with months.settling(M) as carry:
        assert carry is None  # nothing owed
    months.owe(M, {"_id": "carry", "v": 1})
    months.owe(M, {"_id": "carry", "v": 2})  # the first one stands
    assert months.owed(M) == {"_id": "carry", "v": 1}
    paid = []
    inside = threading.Event()
    release = threading.Event()

    def settle():
        with months.settling(M) as carry:
            if carry is not None:
                inside.set()
                release.wait(5)
                paid.append(carry["_id"])
                months.paid(M)

    first = threading.Thread(target=settle)
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=settle)  # waits for the first, then finds nothing owed
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert paid == ["carry"]
    assert months.owed(M) is None


class Counting:
    """Counts the requests a Couch makes (a real server answers them)."""

    def __init__(self, couch):
        self.couch, self.calls = couch, []
        self._request = couch.request

    def __enter__(self):
        def request(method, path, **kw):
            self.calls.append((method, path))
            return self._request(method, path, **kw)

        self.couch.request = request
        return self

    def __exit__(self, *exc):
        del self.couch.request


def test_the_ledger_sets_a_month_up_once_then_reads_only_its_tail(couch, ledger, account, dialect):
    ledger.credit(account, Decimal("5"), "USD", kind="manual", reason="manual_addition", description="x", at=NOW)
    assert ledger._prepared.ready(modb(account, NOW.year, NOW.month))
    other = Ledger(couch, dialect, clock=SimulatedClock(NOW))  # another process: knows no month yet
    with Counting(couch) as cold:
        assert other.balance(account) == Decimal("5")
    with Counting(couch) as warm:
        assert other.balance(account) == Decimal("5")
    assert len(warm.calls) == 1  # the month's total (the `_changes` tail, or the view on CouchDB)
    assert len(cold.calls) > 1
    assert not [c for c in cold.calls if c[0] == "PUT" or c[1].endswith("_bulk_docs")]  # a set-up month: no write
