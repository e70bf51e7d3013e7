"""The pure parts: statement grouping and reconciliation, VAT, usage per day."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookkeeper.documents.statement import NotReconciled, build_statement, compress_days
from bookkeeper.documents.usage import usage_report
from bookkeeper.documents.vat import compute_vat
from bookkeeper.errors import InputError

from .helpers import PERIOD, entry, sample_entries, with_vat

A = "a" * 32


def statement(entries, opening="100.00", closing="73.90", **kw):
    return build_statement(
        entries, account_id=A, period=PERIOD, opening=Decimal(opening), closing=Decimal(closing), currency="USD", **kw
    )


def test_statement_groups_charges_and_reconciles_to_the_cent():
    s = statement(with_vat(sample_entries(), "20"), closing="58.68", vat_rate=Decimal(20))
    rows = [(line.kind, line.dates, line.detail, line.amount) for line in s.services]
    assert rows == [
        ("mrc", "2024-01-01", "2 × $10.00/month", Decimal("20.00")),
        ("prorate", "2024-01-10", "the increase to 3 × $10.00/month for 22 of 31 days", Decimal("7.10")),
        ("activation", "2024-01-10", "1 × $5.00", Decimal("5.00")),
        ("daily", "2024-01-01 – 2024-01-05", "5 days × 2 × $15.50/month ÷ 31 (days 1–5)", Decimal("5.00")),
        ("daily", "2024-01-06 – 2024-01-31", "26 days × 3 × $15.50/month ÷ 31 (days 6–31)", Decimal("39.00")),
    ]
    assert [(line.kind, line.description, line.amount) for line in s.movements] == [
        ("payment", "Payment: Bank transfer 4711", Decimal("50.00"))
    ]
    assert (s.debits, s.credits) == (Decimal("91.32"), Decimal("50.00"))  # 76.10 net + 15.22 VAT entries
    assert s.opening + s.credits - s.debits == s.closing == Decimal("58.68")
    assert (s.vat.net, s.vat.vat, s.vat.gross) == (Decimal("76.10"), Decimal("15.22"), Decimal("91.32"))
    assert s.total == Decimal("91.32")


def test_a_statement_that_does_not_reconcile_fails_loudly():
    with pytest.raises(NotReconciled, match=r"closing balance is 73.89 \(difference -0.01 USD\)"):
        statement(sample_entries(), closing="73.89")


def test_an_amount_that_is_not_whole_cents_names_the_entry():
    bad = [entry("mrc", "1.005", category="devices", item="sip_device", quantity=1, rate="1.005", factor="31/31")]
    with pytest.raises(InputError, match=r"modb/e-mrc-1-sip_device-0: amount: .*whole number of USD"):
        statement(bad, opening="0", closing="-1.005")


def test_prorated_removal_credit_lowers_the_taxable_amount():
    entries = [
        entry("mrc", "30.00", category="devices", item="sip_device", quantity=3, rate="10.00", factor="31/31"),
        entry(
            "prorate_credit",
            "5.16",
            type="credit",
            day=16,
            category="devices",
            item="sip_device",
            quantity=2,
            rate="10.00",
            factor="16/31",
        ),
    ]
    s = statement(entries, opening="0", closing="-24.84", vat_rate=Decimal(19), vat_disposition="brutto")
    assert [line.charge for line in s.services] == [Decimal("30.00"), Decimal("-5.16")]
    assert s.services[1].detail == "the decrease to 2 × $10.00/month for 16 of 31 days"
    assert (s.vat.gross, s.vat.vat, s.vat.net) == (Decimal("24.84"), Decimal("3.97"), Decimal("20.87"))


@pytest.mark.parametrize(
    "amount,rate,disposition,vat,other",
    [
        ("100.00", "20", "netto", "20.00", "120.00"),
        ("120.00", "20", "brutto", "20.00", "100.00"),
        ("0.05", "20", "netto", "0.01", "0.06"),  # 0.01 exactly: half up
        ("10.00", "0", "netto", "0.00", "10.00"),
    ],
)
def test_vat_is_rounded_once(amount, rate, disposition, vat, other):
    v = compute_vat(Decimal(amount), Decimal(rate), disposition, "EUR")
    assert v.vat == Decimal(vat)
    assert (v.gross if disposition == "netto" else v.net) == Decimal(other)
    assert v.net + v.vat == v.gross


def test_vat_rejects_an_unknown_disposition():
    with pytest.raises(InputError, match="vat_disposition: must be netto or brutto"):
        compute_vat(Decimal(1), Decimal(20), "gross", "EUR")


def test_compress_days():
    assert compress_days([9, 1, 2, 3, 5, 10]) == "1–3, 5, 9–10"
    assert compress_days([7]) == "7"


def test_usage_per_item_per_day():
    report = usage_report(sample_entries(), PERIOD)
    devices = report.quantities[("devices", "sip_device")]
    trunks = report.quantities[("limits", "outbound_trunks")]
    assert devices[:9] == (2,) * 9 and devices[9:] == (3,) * 22
    assert trunks[:5] == (2,) * 5 and trunks[5:] == (3,) * 26
    lines = report.csv().splitlines()
    assert lines[0] == "date,category,item,quantity"
    assert lines[1] == "2024-01-01,devices,sip_device,2" and len(lines) == 1 + 2 * 31
