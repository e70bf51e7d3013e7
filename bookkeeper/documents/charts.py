"""Charts as PNG (matplotlib, drawn off screen): daily quantities per item for a usage report, revenue and MRR per
month for the operator's metrics."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: draw into memory
from matplotlib import pyplot

from .usage import UsageReport

SIZE = (8, 4)  # inches
DPI = 100


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI)
    pyplot.close(figure)
    return buffer.getvalue()


def usage_chart(report: UsageReport, title: str) -> bytes:
    """One panel per item (so that equal quantities do not hide each other): its billed quantity on each day."""
    items = sorted(report.quantities.items()) or [(("", "no billed items"), (0,) * report.period.days)]
    figure, panels = pyplot.subplots(len(items), 1, figsize=SIZE, sharex=True, squeeze=False)
    days = list(range(1, report.period.days + 1))
    colours = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((category, item), per_day) in enumerate(items):
        axes = panels[i][0]
        axes.fill_between(days, per_day, step="post", alpha=0.25, color=colours[i % len(colours)])
        axes.step(days, per_day, where="post", linewidth=2, color=colours[i % len(colours)])
        axes.set_ylabel(f"{category}/{item}" if category else item, rotation=0, ha="right", va="center", fontsize=8)
        axes.set_ylim(0, max(max(per_day, default=0), 1) * 1.25)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
    panels[0][0].set_title(title)
    panels[-1][0].set_xlim(1, report.period.days)
    panels[-1][0].set_xlabel(f"day of the period from {report.period.start_date.isoformat()}")
    return _png(figure)


def revenue_chart(months: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> bytes:
    """Bars of revenue and a line of MRR per month, for each currency (`series`: `{"revenue USD": [...], ...}`)."""
    figure, axes = pyplot.subplots(figsize=SIZE)
    bars = [name for name in series if name.startswith("revenue")]
    width = 0.8 / max(len(bars), 1)
    for i, name in enumerate(bars):
        axes.bar(
            [x + (i - (len(bars) - 1) / 2) * width for x in range(len(months))],
            series[name],
            width=width,
            label=name,
            alpha=0.8,
            zorder=2,
            color=f"C{i}",
        )
    for j, name in enumerate(n for n in series if not n.startswith("revenue")):
        axes.plot(
            range(len(months)), series[name], marker="o", linewidth=2, label=name, zorder=3, color=f"C{len(bars) + j}"
        )
    axes.set_xticks(range(len(months)), months, rotation=45, fontsize=8)
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3, axis="y")
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)
