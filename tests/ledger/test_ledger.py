"""The ledger against the real server, in both dialects: documents, balances, carry-forwards, never twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from testserver import on_couchdb

from bookkeeper.charging.model import Charge
from bookkeeper.clock import SimulatedClock
from bookkeeper.couch import Forbidden
from bookkeeper.dbnames import encode, modb, to_gregorian
from bookkeeper.errors import InputError
from bookkeeper.ledger import Ledger
from bookkeeper.ledger import documents as d
from bookkeeper.ledger.documents import INFO

USD = "USD"


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def credit(ledger, account, amount, when, **kw):
    kw = {"kind": "manual", "reason": "manual_addition", "description": "test credit", **kw}
    return ledger.credit(account, Decimal(amount), USD, at=when, **kw)


def debit(ledger, account, amount, when, **kw):
    kw = {"kind": "manual", "reason": "admin_discretion", "description": "test debit", **kw}
    return ledger.debit(account, Decimal(amount), USD, at=when, **kw)


def charge(account, key, amount, start, end, kind="mrc", type_="debit"):
    return Charge(
        key=key,
        account_id=account,
        type=type_,
        kind=kind,
        category="devices",
        item="sip_device",
        quantity=2,
        rate=Decimal("10.00"),
        amount=Decimal(amount),
        currency=USD,
        factor="22/31",
        period_start=start,
        period_end=end,
        day=1,
        description="2 x sip_device",
    )


def test_credit_and_debit_round_trip_in_units(couch, account, ledger, dialect):
    c = credit(ledger, account, "10.00", at(1, 5))
    d = debit(ledger, account, "3.35", at(1, 6))
    db = couch.db(modb(account, 2026, 1))
    assert c.db == d.db == db.name and c.written and d.written and c.id.startswith("202601-")
    cdoc, ddoc = db.get(c.id), db.get(d.id)
    assert cdoc["pvt_created"] == to_gregorian(at(1, 5)) and cdoc["pvt_account_id"] == account
    assert cdoc["pvt_account_db"] == encode(db.name) and cdoc[INFO]["kind"] == "manual"
    if dialect == "4.2":
        assert (cdoc["pvt_type"], cdoc["pvt_amount"], cdoc["pvt_reason"], cdoc["pvt_code"]) == (
            "credit",
            100000,
            "manual_addition",
            3001,
        )
        assert (ddoc["pvt_type"], ddoc["pvt_amount"], ddoc["pvt_code"]) == ("debit", 33500, 3005)
    else:
        assert (cdoc["pvt_type"], cdoc["pvt_ledger_type"], cdoc["amount"]) == ("ledger", "credit", 100000)
        assert (ddoc["pvt_ledger_type"], ddoc["amount"], ddoc["source"]["service"]) == ("debit", 33500, "adjustments")
    assert ledger.balance(account, at(1, 20)) == Decimal("6.65")
    entries = ledger.entries(account, at(1, 1, 0), at(2, 1, 0))
    assert [(e.kind, e.type, e.amount) for e in entries] == [
        ("rollover", "credit", Decimal(0)),
        ("manual", "credit", Decimal("10")),
        ("manual", "debit", Decimal("3.35")),
    ]
    assert ledger.entries(account, at(1, 1, 0), at(2, 1, 0), kind="manual")[1].description == "test debit"


def test_rejects_amounts_that_would_need_rounding(account, ledger):
    with pytest.raises(InputError, match=r"10\.005 is not a whole number of USD minor units"):
        credit(ledger, account, "10.005", at(1, 5))
    with pytest.raises(InputError, match="must be positive"):
        credit(ledger, account, "-1", at(1, 5))


def test_balance_across_three_months_with_carry_forward(couch, account, ledger, dialect):
    credit(ledger, account, "100.00", at(1, 10))
    debit(ledger, account, "30.00", at(2, 10))
    debit(ledger, account, "20.50", at(3, 10))
    assert ledger.balance(account, at(3, 20)) == Decimal("49.50")
    assert ledger.balance(account, at(2, 5)) == Decimal("100")  # Feb before its debit: the carry-forward
    assert ledger.balance(account, at(1, 9)) == Decimal(0)
    carry = "monthly_rollup" if dialect == "4.2" else "202603-ledgers_monthly_rollover"
    doc = couch.db(modb(account, 2026, 3)).get(carry)
    units = doc["pvt_amount"] if dialect == "4.2" else doc["amount"]
    assert units == 700000 and doc["pvt_created"] == to_gregorian(at(3, 1, 0))
    if dialect == "4.3":  # named for the new month, as kz_ledgers:rollover names it (KAZOO 4.3 kz_ledgers.erl)
        assert doc["source"] == {"service": "rollovers", "id": "202603"}
        assert doc["description"] == "Monthly rollover for 202603"
        rows = couch.db(modb(account, 2026, 3)).view("ledgers", "total_by_source", group_level=1)["rows"]
        assert {r["key"][0]: r["value"] for r in rows} == {"rollovers": 700000, "adjustments": -205000}
    else:
        assert (doc["pvt_reason"], doc["pvt_code"]) == ("database_rollup", 4000)
        rows = couch.db(modb(account, 2026, 3)).view("transactions", "credit_remaining")["rows"]
        assert rows[0]["value"] == 495000
    # a month with no MODB yet reads the last closing balance without creating anything
    assert ledger.balance(account, at(5, 1)) == Decimal("49.50")
    assert not couch.db(modb(account, 2026, 5)).exists()
    assert ledger.verify(account) == []


def test_late_entry_restates_every_later_carry_forward(couch, account, ledger, dialect):
    credit(ledger, account, "100.00", at(1, 10))
    debit(ledger, account, "30.00", at(2, 10))
    debit(ledger, account, "20.00", at(3, 10))
    assert ledger.balance(account, at(3, 20)) == Decimal("50")
    credit(ledger, account, "5.25", at(1, 31))  # late: January is long closed
    assert ledger.balance(account, at(3, 20)) == Decimal("55.25")
    assert ledger.balance(account, at(2, 20)) == Decimal("75.25")
    # the carry-forward itself now states the full previous balance (Jan 105.25, Feb 105.25 - 30 = 75.25), as
    # KAZOO's fix_rollovers writes it; no correction document beside it
    name = "monthly_rollup" if dialect == "4.2" else "ledgers_monthly_rollover"
    for month, units in ((2, 1052500), (3, 752500)):
        db = couch.db(modb(account, 2026, month))
        doc = db.get(d.carry_id(dialect, 2026, month))
        assert (doc.get("pvt_amount") or doc.get("amount")) == units and doc["_rev"].startswith("2-")
        assert db.get_or_none(f"2026{month:02d}-{name}-1") is None
    assert ledger.verify(account) == []
    ledger.ensure_rollover(account, 2026, 3)  # idempotent: nothing more to restate
    assert couch.db(modb(account, 2026, 3)).get(d.carry_id(dialect, 2026, 3))["_rev"].startswith("2-")


def kazoo_fix_rollover(couch, account, dialect, year, month):
    """What KAZOO 4.3's kazoo_ledgers_maintenance:fix_rollover/3 does (core/kazoo_ledgers/src/
    kazoo_ledgers_maintenance.erl): the month's rollover document gets the previous month's total as its
    amount and type; every other document stays as it is."""
    py, pm = (year, month - 1) if month > 1 else (year - 1, 12)
    previous = [
        r["doc"]
        for r in couch.db(modb(account, py, pm)).all_docs(include_docs=True)
        if r.get("doc") and d.is_money(r["doc"])
    ]
    total = sum(d.signed_units(doc, dialect) for doc in previous)
    db = couch.db(modb(account, year, month))
    doc = db.get(d.carry_id(dialect, year, month))
    if dialect == "4.3":
        doc.update(amount=abs(total), pvt_ledger_type="credit" if total > 0 else "debit")
    else:
        doc.update(pvt_amount=abs(total), pvt_type="credit" if total > 0 else "debit")
    db.put(doc)


def test_kazoo_fix_and_ours_agree_whichever_fixes_the_month(couch, account, ledger, dialect):
    """A late entry leaves February's carry-forward stale; KAZOO's fix_rollovers and our restatement both
    correct it, in either order, and KAZOO's balance view and ours say the same (no second correction document
    for KAZOO's fix to count twice). A correction document an older bookkeeper left is set to 0."""
    credit(ledger, account, "100.00", at(1, 10))
    debit(ledger, account, "30.00", at(2, 10))
    jan = couch.db(modb(account, 2026, 1))
    late = d.build(
        dialect,
        d.random_id(2026, 1),
        account,
        2026,
        1,
        "credit",
        52500,
        at(1, 31),
        d.Explained("manual", "admin_discretion", "late, written by someone else", USD),
    )
    jan.put(late)  # not through our ledger: February's carry-forward is stale now (100.00 instead of 105.25)
    feb = couch.db(modb(account, 2026, 2))
    legacy = d.carry_doc(
        dialect, d.adjustment_prefix(dialect, 2026, 2) + "1", account, 2026, 2, 1000, "202601", at(2, 1)
    )
    feb.put(legacy)  # an older bookkeeper's "-n" correction (0.10), stale as well
    kazoo_fix_rollover(couch, account, dialect, 2026, 2)  # KAZOO first ...
    ledger.ensure_rollover(account, 2026, 2)  # ... then us: only the legacy document changes
    assert feb.get(legacy["_id"]).get("pvt_amount", feb.get(legacy["_id"]).get("amount")) == 0
    kazoo_fix_rollover(couch, account, dialect, 2026, 2)  # and KAZOO again: nothing double counted
    view = ("ledgers", "total_by_source") if dialect == "4.3" else ("transactions", "credit_remaining")
    rows = feb.view(*view, reduce=True)["rows"]
    assert rows[0]["value"] == 752500  # 105.25 carried - 30.00
    assert ledger.balance(account, at(2, 20)) == Decimal("75.25")
    assert ledger.verify(account) == []


def test_a_past_month_written_before_the_first_month_is_carried_forward(couch, account, ledger):
    credit(ledger, account, "10.00", at(3, 10))
    credit(ledger, account, "1.00", at(1, 10))  # before the account's first month: February is filled in
    assert couch.db(modb(account, 2026, 2)).exists()
    assert ledger.balance(account, at(3, 20)) == Decimal("11")
    assert ledger.verify(account) == []


def test_replayed_charge_is_written_once_even_in_the_next_month(couch, account, ledger):
    start, end = at(1, 15, 0), at(2, 15, 0)
    first = ledger.write_charges(account, [charge(account, "k/mrc", "14.19", start, end)], USD, at(1, 31))
    assert first[0].written and first[0].db == modb(account, 2026, 1)
    again = ledger.write_charges(account, [charge(account, "k/mrc", "14.19", start, end)], USD, at(1, 31, 13))
    assert not again[0].written and again[0].id == first[0].id  # 409: already written
    replay = ledger.write_charges(
        account,
        [charge(account, "k/mrc", "14.19", start, end), charge(account, "k/act", "5.00", start, end, "activation")],
        USD,
        at(2, 2),
    )
    assert [r.written for r in replay] == [False, True]
    assert replay[0].id == first[0].id and replay[1].db == modb(account, 2026, 2)
    feb = couch.db(modb(account, 2026, 2))
    assert [
        r["id"]
        for r in feb.all_docs()
        if "ledgers_monthly" not in r["id"] and r["id"] != "monthly_rollup" and not r["id"].startswith("_design/")
    ] == [replay[1].id]
    doc = feb.get(replay[1].id)
    info = doc[INFO]
    assert (info["kind"], info["category"], info["item"], info["quantity"], info["rate"], info["factor"]) == (
        "activation",
        "devices",
        "sip_device",
        2,
        "10.00",
        "22/31",
    )
    assert info["period"] == {"start": start.isoformat(), "end": end.isoformat()} and info["rule_version"]
    assert ledger.balance(account, at(2, 3)) == Decimal("-19.19")


def test_keyed_payment_credits_once_across_months(couch, account, ledger):
    first = credit(ledger, account, "50.00", at(1, 20), kind="payment", reason="topup", key="braintree:tx-1")
    replay = credit(ledger, account, "50.00", at(2, 3), kind="payment", reason="topup", key="braintree:tx-1")
    assert first.written and not replay.written and (replay.id, replay.db) == (first.id, first.db)
    assert ledger.balance(account, at(2, 4)) == Decimal("50")


def test_validate_doc_update_rejects_edit_and_delete_by_non_admin(account, ledger, member):
    written = credit(ledger, account, "10.00", at(1, 5))
    bob = member(f"bob{account[:8]}", written.db)
    doc = bob.get(written.id)
    assert doc["_id"] == written.id  # bob can read it
    with pytest.raises(Forbidden, match="append-only"):
        bob.put({**doc, "amount": 1, "pvt_amount": 1})
    with pytest.raises(Forbidden, match="append-only"):
        bob.delete_doc(written.id, doc["_rev"])
    created = bob.put({"_id": "202601-note", "pvt_type": "note"})  # other documents are not guarded
    assert created.startswith("1-")
    assert ledger.balance(account, at(1, 6)) == Decimal("10")


def test_verify_finds_a_tampered_carry_forward_and_rollover_repairs_it(couch, account, ledger, dialect):
    credit(ledger, account, "100.00", at(1, 10))
    debit(ledger, account, "30.00", at(2, 10))
    assert ledger.balance(account, at(2, 20)) == Decimal("70")
    feb = couch.db(modb(account, 2026, 2))
    carry = feb.get("monthly_rollup" if dialect == "4.2" else "202602-ledgers_monthly_rollover")
    feb.put({**carry, "pvt_amount": 1230000} if dialect == "4.2" else {**carry, "amount": 1230000})  # as admin
    assert ledger.balance(account, at(2, 20)) == Decimal("93")  # the checkpoint sees the edit and recounts
    problems = ledger.verify(account)
    assert problems == ["202602: carry-forward is 123 but 202601 closes at 100"]
    ledger.ensure_rollover(account, 2026, 2)
    assert ledger.verify(account) == [] and ledger.balance(account, at(2, 20)) == Decimal("70")


@pytest.mark.slow
@pytest.mark.skipif(
    on_couchdb(),
    reason="CouchDB keeps reductions in its B-tree, so balances there are the view's "
    "reduce and never read the _local checkpoint: it is PouchDB Server's path (bookkeeper/ledger/totals.py)",
)
def test_checkpoint_is_advanced_and_a_wrong_one_is_found_and_rebuilt(couch, account, ledger):
    charges = [charge(account, f"k/{i}", "1.00", at(1, 1, 0), at(2, 1, 0), kind="daily") for i in range(150)]
    ledger.write_charges(account, charges, USD, at(1, 2))
    assert ledger.balance(account, at(1, 3)) == Decimal("-150")
    jan = couch.db(modb(account, 2026, 1))
    checkpoint = jan.get(ledger.totals.checkpoint_id)
    assert checkpoint["units"] == -1500000
    credit(ledger, account, "0.50", at(1, 4))
    assert ledger.balance(account, at(1, 5)) == Decimal("-149.50")  # checkpoint + a one-entry tail
    jan.put({**checkpoint, "units": 0})
    assert ledger.verify(account) == [
        "202601: the balance checkpoint does not match its MAC (not written by this bookkeeper); checkpoint rebuilt"
    ]
    assert ledger.verify(account) == []
    assert ledger.balance(account, at(1, 5)) == Decimal("-149.50")


def test_a_second_process_sees_the_same_balance(couch, account, ledger, dialect):
    credit(ledger, account, "12.34", at(1, 5))
    other = Ledger(couch, dialect, clock=SimulatedClock(datetime(2026, 6, 15, tzinfo=UTC)))
    assert other.balance(account, at(1, 6)) == Decimal("12.34")


class Requests:
    """The requests one Couch object makes (method and path), to the real server."""

    def __init__(self, couch):
        self.made, self._request = [], couch.request
        couch.request = self

    def __call__(self, method, path, **kw):
        self.made.append((method, path))
        return self._request(method, path, **kw)

    def to(self, db):
        return [(method, path) for method, path in self.made if path.split("/", 1)[0] == db.path]


def _carry(couch, account, month, dialect):
    docs = [r["doc"] for r in couch.db(modb(account, 2026, month)).all_docs(include_docs=True)]
    return [doc for doc in docs if doc["_id"].endswith(("monthly_rollover", "monthly_rollup"))]


def test_an_opened_ahead_month_gets_its_carry_forward_with_the_first_charges(couch, account, dialect):
    ledger = Ledger(couch, dialect, clock=SimulatedClock(at(2, 28)))
    credit(ledger, account, "50.00", at(2, 3))
    ledger.open_ahead(account, 2026, 3)
    requests = Requests(couch)
    assert ledger.balance(account, at(3, 1, 0), defer_carry=True) == Decimal("50.00")
    assert ledger.balance(account, at(3, 1, 0), defer_carry=True) == Decimal("50.00")  # counted once
    assert _carry(couch, account, 3, dialect) == []
    march = couch.db(modb(account, 2026, 3))
    assert not [path for _, path in requests.to(march) if "/_view/" in path]  # still empty: no index built
    written = ledger.write_charges(
        account, [charge(account, "k/mrc", "20.00", at(3, 1, 0), at(4, 1, 0))], USD, at(3, 1, 0)
    )
    assert written[0].written
    assert [m for m, _ in requests.to(march) if m in ("PUT", "POST")] == ["POST"]  # one _bulk_docs, no PUT
    [carry] = _carry(couch, account, 3, dialect)
    assert carry["amount"] == 500000 if dialect == "4.3" else carry["pvt_amount"] == 500000
    assert ledger.balance(account, at(3, 2)) == Decimal("30.00")
    assert Ledger(couch, dialect).balance(account, at(3, 2)) == Decimal("30.00")  # what another process reads
    assert ledger.verify(account) == []


def test_an_owed_carry_forward_is_written_by_settle_or_by_any_other_write(couch, account, dialect):
    ledger = Ledger(couch, dialect, clock=SimulatedClock(at(2, 28)))
    credit(ledger, account, "50.00", at(2, 3))
    ledger.open_ahead(account, 2026, 3)
    ledger.open_ahead(account, 2026, 4)
    ledger.balance(account, at(3, 1, 0), defer_carry=True)
    ledger.settle_carry(account, at(3, 1, 0))
    assert len(_carry(couch, account, 3, dialect)) == 1
    ledger.settle_carry(account, at(3, 1, 0))  # nothing owed any more: no second carry, no error
    ledger.clock = SimulatedClock(at(4, 1, 0))
    assert ledger.balance(account, at(4, 1, 0), defer_carry=True) == Decimal("50.00")
    credit(ledger, account, "5.00", at(4, 1, 1))  # a payment arrives before any charge
    assert len(_carry(couch, account, 4, dialect)) == 1
    assert ledger.balance(account, at(4, 2)) == Decimal("55.00")
    assert Ledger(couch, dialect).balance(account, at(4, 2)) == Decimal("55.00")


def test_a_carry_forward_someone_else_wrote_first_is_counted_once(couch, account, dialect):
    ledger = Ledger(couch, dialect, clock=SimulatedClock(at(2, 28)))
    credit(ledger, account, "50.00", at(2, 3))
    ledger.open_ahead(account, 2026, 3)
    other = Ledger(couch, dialect, clock=SimulatedClock(at(3, 1, 1)))  # another worker: writes March's carry
    credit(other, account, "5.00", at(3, 1, 1))
    assert ledger.balance(account, at(3, 2), defer_carry=True) == Decimal("55.00")
    assert len(_carry(couch, account, 3, dialect)) == 1
    ledger.write_charges(account, [charge(account, "k/mrc", "20.00", at(3, 1, 0), at(4, 1, 0))], USD, at(3, 2))
    assert ledger.balance(account, at(3, 3)) == Decimal("35.00")
    assert ledger.verify(account) == []
