"""The invoice PDF on its own: a long statement spans pages and repeats the table header on each."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from bookkeeper.documents.parties import customer, invoice_settings
from bookkeeper.documents.pdf import render_invoice
from bookkeeper.documents.statement import build_statement

from .conftest import logo_png
from .helpers import PERIOD, entry, sample_entries, with_vat


def test_a_long_statement_spans_pages_with_repeated_headers_and_totals_at_the_end():
    entries = with_vat(
        sample_entries()
        + [
            entry(
                "activation",
                "1.00",
                day=1 + i % 28,
                category="numbers",
                item=f"+1555000{i:04d}",
                quantity=1,
                rate="1.00",
                factor="1",
                n=i,
            )
            for i in range(120)
        ],
        "10",
    )
    debits = sum(e.amount for e in entries if e.type == "debit")
    st = build_statement(
        entries,
        account_id="b" * 32,
        period=PERIOD,
        opening=Decimal("100.00"),
        closing=Decimal("150.00") - debits,
        currency="USD",
        vat_rate=Decimal(10),
    )
    issuer = invoice_settings(
        {"company_name": "Potato Telecom Inc.", "number_prefix": "PT", "footer": "Thank you"}, "test"
    )
    pdf = render_invoice(
        st,
        number="PT-2024-000042",
        issued=date(2024, 2, 1),
        issuer=issuer,
        customer=customer({"_id": "b" * 32, "name": "Long Co"}),
        logo=logo_png(),
    )
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 3
    for text in pages[1:-1]:
        assert "Dates" in text and "Description" in text and "Amount" in text  # the repeated header row
    for text in pages:
        assert "PT-2024-000042 · page" in text
    assert "+15550000119" in "".join(pages)
    text = "".join(pages)
    for amount in ("$196.10", "$19.61", "$215.71", "-$65.71"):  # net 76.10 + 120 × 1.00, VAT 10%, gross, closing
        assert amount in text, amount
