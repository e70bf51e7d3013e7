"""Ledger entries for the pure tests, built as the ledger reads them back (`bookkeeper.ledger` Entry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bookkeeper.clock import Period, period_containing
from bookkeeper.ledger.documents import INFO, Entry
from bookkeeper.money import round_money

PERIOD = period_containing(datetime(2024, 1, 15, tzinfo=UTC), 1, "UTC")


def entry(
    kind: str,
    amount: str,
    *,
    type: str = "debit",
    day: int = 1,
    category: str | None = None,
    item: str | None = None,
    quantity: int | None = None,
    rate: str | None = None,
    factor: str | None = None,
    description: str = "",
    period: Period = PERIOD,
    n: int = 0,
) -> Entry:
    at = period.start + timedelta(days=day - 1, hours=1, minutes=n)
    info = {"kind": kind, "day": day} if kind == "daily" else {"kind": kind}
    return Entry(
        id=f"e-{kind}-{day}-{item}-{n}",
        db="modb",
        account_id="a" * 32,
        type=type,
        amount=Decimal(amount),
        kind=kind,
        reason=kind,
        at=at,
        description=description,
        category=category,
        item=item,
        quantity=quantity,
        rate=Decimal(rate) if rate is not None else None,
        factor=factor,
        period_start=period.start,
        period_end=period.end,
        key=None,
        metadata={},
        doc={INFO: info},
    )


def sample_entries() -> list[Entry]:
    """A January: MRC for 2 phones, a third added on day 10 (22/31), an activation, daily fees for a trunk
    (2 on days 1-5, 3 on days 6-31), a payment, and a carry-forward that is not a line."""
    out = [
        entry("rollover", "100.00", type="credit", description="Monthly rollover"),
        entry("mrc", "20.00", category="devices", item="sip_device", quantity=2, rate="10.00", factor="31/31"),
        entry(
            "prorate", "7.10", day=10, category="devices", item="sip_device", quantity=3, rate="10.00", factor="22/31"
        ),
        entry("activation", "5.00", day=10, category="devices", item="sip_device", quantity=1, rate="5.00", factor="1"),
        entry("payment", "50.00", type="credit", day=20, description="Bank transfer 4711"),
    ]
    fees = {}
    for k in range(1, 32):
        q = 2 if k <= 5 else 3
        total = Decimal(q) * Decimal("15.50")
        fees[k] = (q, round_money(total * k / 31, "USD") - round_money(total * (k - 1) / 31, "USD"))
    for k, (q, fee) in fees.items():
        out.append(
            entry(
                "daily",
                str(fee),
                day=k,
                category="limits",
                item="outbound_trunks",
                quantity=q,
                rate="15.50",
                factor="1/31",
            )
        )
    return out


def with_vat(entries: list[Entry], rate: str) -> list[Entry]:
    """The entries, each service charge followed by its netto VAT entry (rounded per entry, as the engine does)."""
    out = []
    for e in entries:
        out.append(e)
        if e.kind in ("mrc", "prorate", "prorate_credit", "activation", "daily"):
            vat = round_money(e.amount * Decimal(rate) / 100, "USD")
            if vat > 0:
                out.append(
                    entry(
                        "vat",
                        str(vat),
                        type=e.type,
                        day=e.doc[INFO].get("day", 1),
                        category=e.category,
                        item=e.item,
                        n=len(out),
                    )
                )
    return out
