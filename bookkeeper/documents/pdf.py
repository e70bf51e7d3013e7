"""The invoice PDF, drawn with reportlab platypus: issuer and logo, customer, number and dates, the services
with VAT and totals, the other account movements and the balances. Tables repeat their header row on every page.

Text is set in DejaVu Sans when the system has it (Cyrillic, ₽, every CLDR number format), else in Bitstream Vera,
which reportlab ships; both are embedded, so the text can be extracted again.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..errors import InputError
from .parties import Customer, InvoiceSettings
from .statement import Statement

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
VERA = Path(reportlab.__file__).parent / "fonts"
FONT_CANDIDATES = (
    (DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"),
    (VERA / "Vera.ttf", VERA / "VeraBd.ttf"),
)
ACCENT = colors.HexColor("#1f3b5a")
RULE = colors.HexColor("#c8d0d8")
ZEBRA = colors.HexColor("#f3f5f7")
MARGIN = 18 * mm
FRAME_PADDING = 6  # points, on each side of SimpleDocTemplate's frame


def _fonts() -> tuple[str, str]:
    """Register the first available font pair once; (regular, bold) names."""
    if "InvoiceSans" not in pdfmetrics.getRegisteredFontNames():
        regular, bold = next(pair for pair in FONT_CANDIDATES if pair[0].exists() and pair[1].exists())
        pdfmetrics.registerFont(TTFont("InvoiceSans", str(regular)))
        pdfmetrics.registerFont(TTFont("InvoiceSans-Bold", str(bold)))
    return "InvoiceSans", "InvoiceSans-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=11.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#555555")),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "bold": ParagraphStyle("bold", base, fontName=bold),
        "bold_right": ParagraphStyle("bold_right", base, fontName=bold, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", base, fontName=bold, textColor=colors.white),
        "head_right": ParagraphStyle("head_right", base, fontName=bold, textColor=colors.white, alignment=TA_RIGHT),
        "title": ParagraphStyle("title", base, fontName=bold, fontSize=20, leading=24, textColor=ACCENT),
        "company": ParagraphStyle("company", base, fontName=bold, fontSize=13, leading=16, alignment=TA_RIGHT),
        "issuer": ParagraphStyle("issuer", base, alignment=TA_RIGHT),
        "section": ParagraphStyle(
            "section", base, fontName=bold, fontSize=11, leading=14, textColor=ACCENT, spaceBefore=10, spaceAfter=4
        ),
    }


def render_invoice(
    statement: Statement,
    *,
    number: str,
    issued: date,
    issuer: InvoiceSettings,
    customer: Customer,
    logo: bytes | None = None,
) -> bytes:
    """The invoice for `statement` as PDF bytes."""
    st = _styles()
    p = lambda text, style="base": Paragraph(escape(str(text)).replace("\n", "<br/>"), st[style])  # noqa: E731
    money = statement.money
    width = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
    story = [_letterhead(issuer, logo, st, width), Spacer(1, 8 * mm)]

    meta = [
        [p("Invoice number", "bold"), p(number)],
        [p("Issue date", "bold"), p(issued.isoformat())],
        [
            p("Billing period", "bold"),
            p(
                f"{statement.period.start_date.isoformat()} – {statement.period.last_date.isoformat()} "
                f"({statement.period.days} days)"
            ),
        ],
        [p("Account", "bold"), p(statement.account_id, "small")],
        [p("Currency", "bold"), p(statement.currency)],
    ]
    bill_to = [p("Bill to", "bold"), p(customer.name), *[p(line) for line in customer.address]]
    head = Table(
        [[[p("Invoice", "title"), Spacer(1, 3 * mm), _grid(meta, [30 * mm, 72 * mm])], bill_to]],
        colWidths=[width * 0.62, width * 0.38],
    )
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [head, Spacer(1, 6 * mm), p("Services", "section")]

    rows = [[p("Dates", "head"), p("Description", "head"), p("Details", "head"), p("Amount", "head_right")]]
    rows += [
        [p(line.dates, "small"), p(line.description), p(line.detail, "small"), p(money(line.charge), "right")]
        for line in statement.services
    ]
    if not statement.services:
        rows.append([p(""), p("No services were charged in this period."), p(""), p("")])
    story.append(_lines_table(rows, [28 * mm, 70 * mm, width - 122 * mm, 24 * mm]))
    story.append(_totals(statement, st))

    if statement.movements:
        story.append(p("Payments and other account movements", "section"))
        rows = [[p("Date", "head"), p("Description", "head"), p("Amount", "head_right")]]
        rows += [
            [p(line.dates, "small"), p(line.description), p(money(-line.charge), "right")]
            for line in statement.movements
        ]
        story.append(_lines_table(rows, [28 * mm, width - 52 * mm, 24 * mm]))

    summary = [
        [p("Opening balance"), p(money(statement.opening), "right")],
        [p("Payments and credits"), p(money(statement.credits), "right")],
        [p("Charges and debits"), p(money(-statement.debits), "right")],
        [p("Closing balance", "bold"), p(money(statement.closing), "bold_right")],
    ]
    story += [p("Account summary", "section"), _summary_table(summary)]

    out = io.BytesIO()
    footer = _footer(issuer.footer, number, st["small"].fontName)
    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm,
        title=f"Invoice {number}",
        author=issuer.company_name,
        subject=f"{customer.name} {statement.period.start_date.isoformat()}",
        invariant=1,
    ).build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _letterhead(issuer: InvoiceSettings, logo: bytes | None, st, width: float) -> Table:
    lines = [Paragraph(escape(issuer.company_name), st["company"])]
    lines += [Paragraph(escape(line), st["issuer"]) for line in issuer.address]
    if issuer.vat_id:
        lines.append(Paragraph(escape(f"VAT ID {issuer.vat_id}"), st["issuer"]))
    left = _logo(logo, 60 * mm, 22 * mm) if logo else ""
    table = Table([[left, lines]], colWidths=[width * 0.45, width * 0.55])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, ACCENT),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _logo(data: bytes, max_w: float, max_h: float) -> Image:
    try:
        w, h = ImageReader(io.BytesIO(data)).getSize()
    except Exception as exc:  # reportlab/PIL raise many kinds for a bad image
        raise InputError("configs_bookkeeper", "invoice.logo", f"not a readable image: {exc}") from None
    scale = min(max_w / w, max_h / h)
    image = Image(io.BytesIO(data), width=w * scale, height=h * scale)
    image.hAlign = "LEFT"
    return image


def _grid(rows, widths) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _lines_table(rows, widths) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), ZEBRA) for i in range(2, len(rows), 2)]
    table.setStyle(TableStyle(style))
    return table


def _totals(statement: Statement, st) -> KeepTogether:
    money, vat = statement.money, statement.vat
    rate = f"{vat.rate.normalize():f}%"
    if vat.disposition == "netto":
        rows = [["Subtotal (net)", money(vat.net)], [f"VAT {rate}", money(vat.vat)]]
    else:
        rows = [
            ["Services (VAT included)", money(vat.gross)],
            [f"of which VAT {rate}", money(vat.vat)],
            ["Net", money(vat.net)],
        ]
    rows += [[line.description, money(line.charge)] for line in statement.adjustments]
    rows.append(["Total", money(statement.total)])
    bold = len(rows) - 1
    cells = [
        [
            Paragraph(escape(label), st["bold" if i == bold else "base"]),
            Paragraph(escape(amount), st["bold_right" if i == bold else "right"]),
        ]
        for i, (label, amount) in enumerate(rows)
    ]
    table = Table(cells, colWidths=[48 * mm, 28 * mm], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, bold), (-1, bold), 0.8, ACCENT),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return KeepTogether([Spacer(1, 3 * mm), table])


def _summary_table(rows) -> Table:
    table = Table(rows, colWidths=[48 * mm, 28 * mm], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, ACCENT),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _footer(text: str, number: str, font: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.setStrokeColor(RULE)
        y = MARGIN - 2 * mm
        canvas.line(MARGIN, y + 9, A4[0] - MARGIN, y + 9)
        if text:
            canvas.drawString(MARGIN, y, text[:160])
        canvas.drawRightString(A4[0] - MARGIN, y, f"{number} · page {doc.page}")
        canvas.restoreState()

    return draw


def render_commissions(*, agent: str, title: str, lines: list[dict], totals: dict[str, str], issued: date) -> bytes:
    """An agent's commission statement: one line per referred account and level (account, period, base, rate,
    commission, paid as), then the total per currency. Amounts come formatted."""
    st = _styles()
    regular, _ = _fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"Commission statement {agent}",
    )
    width = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
    head = ["Referred account", "Level", "Period", "Base", "Rate", "Commission", "Paid as"]
    rows = [[Paragraph(escape(h), st["head_right" if i in (3, 5) else "head"]) for i, h in enumerate(head)]]
    for line in lines:
        cells = [
            line["name"],
            str(line["level"]),
            line["period"],
            line["base"],
            line["rate"],
            line["commission"],
            line["payout"],
        ]
        rows.append([Paragraph(escape(c), st["right" if i in (3, 5) else "base"]) for i, c in enumerate(cells)])
    widths = [w * width for w in (0.16, 0.09, 0.26, 0.13, 0.09, 0.16, 0.11)]
    story = [
        Paragraph("Commission statement", st["title"]),
        Spacer(1, 2 * mm),
        Paragraph(escape(f"Agent: {agent}"), st["bold"]),
        Paragraph(escape(title), st["base"]),
        Paragraph(escape(f"Issued {issued.isoformat()}"), st["small"]),
        Spacer(1, 5 * mm),
        _lines_table(rows, widths) if lines else Paragraph("No referred accounts.", st["base"]),
    ]
    if totals:
        story += [
            Spacer(1, 3 * mm),
            _summary_table(
                [
                    [Paragraph(escape(f"Total {c}"), st["bold"]), Paragraph(escape(a), st["bold_right"])]
                    for c, a in sorted(totals.items())
                ]
            ),
        ]
    footer = _footer("Commissions are computed once per referred account, level and period.", agent, regular)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
