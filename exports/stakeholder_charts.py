"""The charts of the stakeholder report: matplotlib figures turned into vector drawings.

Each function takes the series read by :mod:`exports.stakeholder_data` and returns a ReportLab
``Drawing`` (via matplotlib's SVG output and svglib), so the charts stay vector in the PDF and
the page text and the charts share one font. The style is made for grey print: one blue ramp
whose shades differ clearly in lightness (the report's period darkest, the period it is
compared with a light grey), outlines on light fills, dashed and solid lines, axis labels with
units. (Hatching is avoided: svglib drops SVG patterns.) Chart text stays text
(``svg.fonttype='none'``) in the report's embedded font (:mod:`exports.report_fonts`): it is
searchable and much faster to convert than glyph outlines. Charts carry no mart figures, only
scales; the figures are printed as text on the cover and the what-changed page. Rendering is
deterministic: a fixed SVG hash salt and no dates in the output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from reportlab.graphics.shapes import Drawing
from svglib.svglib import svg2rlg

from exports.periods import Period, month_name
from exports.report_fonts import register_fonts

INK = "#1a1a1a"
DARK = "#1f4e79"
MID = "#4f8fc9"
LIGHT = "#b9d3ec"
GREY = "#8c8c8c"
PREVIOUS = "#cfcfcf"  # the comparison period: light grey with a dark outline
BAND = "#e9e9e9"
WIDTH_IN = 6.9  # fits the A4 text frame (505 pt) with a little air

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#d0d0d0",
    "grid.linewidth": 0.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "hatch.linewidth": 0.6,
    "svg.fonttype": "none",
    "svg.hashsalt": "petpro-stakeholder-report",
    "path.simplify": True,
}


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):
        yield


def _thousands(value: float, _pos: int) -> str:
    return f"{value:,.0f}"


def _to_drawing(fig: Figure) -> Drawing:
    register_fonts()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    buffer.seek(0)
    drawing = svg2rlg(buffer)
    if drawing is None:  # pragma: no cover - svglib returns None only for unreadable SVG
        raise RuntimeError("svglib could not read a chart rendered by matplotlib")
    return drawing


def _period_ticks(starts: Sequence[date], grain: str, most: int = 13) -> list[str]:
    """Tick labels for at most ``most`` periods, counted back from the report's period (always
    labelled), with the year under the first label and wherever the year changes; the other
    ticks stay unlabelled."""
    step = max(1, -(-len(starts) // most))
    labels = []
    previous_year: int | None = None
    for i, start in enumerate(starts):
        if (len(starts) - 1 - i) % step:
            labels.append("")
            continue
        text = month_name(start) if grain == "month" else f"{start.day} {month_name(start)}"
        if start.year != previous_year:
            text += f"\n{start.year}"
            previous_year = start.year
        labels.append(text)
    return labels


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def growth_chart(series: Sequence[tuple[date, int, int]], period: Period) -> Drawing:
    """New customers per period (bars) and cumulative customers (line, right axis)."""
    with _style():
        fig = Figure(figsize=(WIDTH_IN, 3.0), layout="constrained")
        ax = fig.add_subplot()
        if not series:
            _empty(ax, "no customers in this window")
            return _to_drawing(fig)
        xs = list(range(len(series)))
        new = [s[1] for s in series]
        bars = ax.bar(xs, new, color=LIGHT, edgecolor=DARK, linewidth=0.5, width=0.75)
        bars[-1].set_facecolor(DARK)  # the report's period
        unit = "month" if period.grain == "month" else "week"
        ax.set_ylabel(f"New customers per {unit}")
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_xticks(xs, _period_ticks([s[0] for s in series], period.grain))
        ax.set_xlim(-0.6, len(xs) - 0.4)
        right = ax.twinx()
        right.plot(xs, [s[2] for s in series], color=INK, linewidth=1.4, marker="o", markersize=2)
        right.set_ylabel("Cumulative customers")
        right.yaxis.set_major_formatter(FuncFormatter(_thousands))
        right.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        right.set_ylim(bottom=0)
        right.grid(False)
        right.spines["right"].set_visible(True)
        ax.legend(
            [bars[0], bars[-1], right.lines[0]],
            ["New customers", f"New customers, {period.label}", "Cumulative customers (right)"],
            loc="upper left",
            ncols=3,
            bbox_to_anchor=(0, 1.13),
        )
        return _to_drawing(fig)


def actives_chart(series: Sequence[tuple[date, int, int, int]], period: Period) -> Drawing:
    """DAU, WAU and MAU per day, with the report's period shaded."""
    with _style():
        fig = Figure(figsize=(WIDTH_IN, 2.9), layout="constrained")
        ax = fig.add_subplot()
        if not series:
            _empty(ax, "no activity in this window")
            return _to_drawing(fig)
        days = [s[0] for s in series]
        ax.axvspan(period.start, period.end, color=BAND, linewidth=0, label=period.label)
        ax.plot(days, [s[3] for s in series], color=INK, linewidth=1.3, label="MAU (30 days)")
        ax.plot(
            days, [s[2] for s in series], color=MID, linewidth=1.2, ls="--", label="WAU (7 days)"
        )
        ax.plot(days, [s[1] for s in series], color=DARK, linewidth=0.8, label="DAU (day)")
        ax.set_ylabel("Active customers")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ticks = [d for d in days if d.day == 1] or days[:: max(1, len(days) // 6)]
        if len(ticks) > 7:
            ticks = ticks[:: -(-len(ticks) // 7)]
        ax.set_xticks(ticks, [f"{d.day} {month_name(d)}\n{d.year}" for d in ticks])
        if len(days) > 1:
            ax.set_xlim(days[0], days[-1])
        ax.legend(loc="upper left", ncols=4, bbox_to_anchor=(0, 1.14))
        return _to_drawing(fig)


def activity_chart(rows: Sequence[tuple[str, int, int]], period: Period) -> Drawing:
    """Active customers per activity type: this period (dark) against the previous (grey)."""
    height = 0.8 + 0.2 * max(len(rows), 3)
    with _style():
        fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
        ax = fig.add_subplot()
        if not rows:
            _empty(ax, "no activity in this period")
            return _to_drawing(fig)
        ys = list(range(len(rows)))[::-1]
        h = 0.38
        ax.barh(
            [y + h / 2 for y in ys], [r[1] for r in rows], height=h, color=DARK, label=period.label
        )
        ax.barh(
            [y - h / 2 for y in ys],
            [r[2] for r in rows],
            height=h,
            color=PREVIOUS,
            edgecolor=INK,
            linewidth=0.4,
            label=period.previous().label,
        )
        ax.set_yticks(ys, [r[0].replace("_", " ") for r in rows])
        ax.set_xlabel("Active customers (distinct customers with at least one such activity)")
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(axis="y", visible=False)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.legend(loc="lower right")
        return _to_drawing(fig)


def revenue_chart(revenue: dict[str, list[tuple[str, Decimal, Decimal]]], month: Period) -> Drawing:
    """Net revenue per service category, one panel per currency (never summed across them)."""
    currencies = sorted(revenue)
    cols = min(max(len(currencies), 1), 4)
    rows = max(1, -(-len(currencies) // cols))
    with _style():
        fig = Figure(figsize=(WIDTH_IN, 0.5 + 2.3 * rows), layout="constrained")
        if not currencies:
            _empty(fig.add_subplot(), f"no revenue in {month.label}")
            return _to_drawing(fig)
        handles = []
        for i, currency in enumerate(currencies):
            ax = fig.add_subplot(rows, cols, i + 1)
            # One category order in every panel, so a category sits at the same height.
            items = sorted(revenue[currency], key=lambda r: (r[0] == "other", r[0]))
            ys = list(range(len(items)))[::-1]
            h = 0.38
            current = ax.barh(
                [y + h / 2 for y in ys], [float(r[1]) for r in items], height=h, color=DARK
            )
            previous = ax.barh(
                [y - h / 2 for y in ys],
                [float(r[2]) for r in items],
                height=h,
                color=PREVIOUS,
                edgecolor=INK,
                linewidth=0.4,
            )
            handles = [current, previous]
            ax.set_yticks(ys, [r[0] for r in items])
            ax.set_xlabel(f"Net revenue ({currency})")
            ax.xaxis.set_major_formatter(FuncFormatter(_compact))
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.grid(axis="y", visible=False)
            ax.axvline(0, color="#555555", linewidth=0.6)
        fig.legend(
            handles, [month.label, month.previous().label], loc="outside upper left", ncols=2
        )
        return _to_drawing(fig)


def _compact(value: float, _pos: int) -> str:
    """Axis ticks of money: 12k, 1.5M (the exact amounts are on the cover and movers page)."""
    size = abs(value)
    if size >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if size >= 1_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:.0f}"


def cohort_chart(cells: Sequence[tuple[date, int, float | None]], month: Period) -> Drawing:
    """Monthly signup cohorts × months since signup, shaded by retention (darker = higher).

    Drawn as vector cells (``pcolormesh``), not an image: months a cohort has not reached yet
    stay blank.
    """
    with _style():
        fig = Figure(figsize=(WIDTH_IN, 3.3), layout="constrained")
        ax = fig.add_subplot()
        cohorts = sorted({c[0] for c in cells})
        if not cohorts:
            _empty(ax, "no complete cohort months yet")
            return _to_drawing(fig)
        width = max(c[1] for c in cells) + 1
        grid = np.full((len(cohorts), width), np.nan)
        index = {c: i for i, c in enumerate(cohorts)}
        for cohort, k, value in cells:
            if value is not None:
                grid[index[cohort], k] = value
        top = float(np.nanmax(grid)) if np.isfinite(grid).any() else 1.0
        mesh = ax.pcolormesh(
            np.ma.masked_invalid(grid),
            cmap="Blues",
            vmin=0,
            vmax=max(top, 0.05),
            edgecolors="white",
            linewidth=0.8,
        )
        ax.invert_yaxis()  # oldest cohort on top, like every cohort table
        ax.set_xticks([k + 0.5 for k in range(width)], [str(k) for k in range(width)])
        ax.set_yticks(
            [i + 0.5 for i in range(len(cohorts))], [f"{month_name(c)} {c.year}" for c in cohorts]
        )
        ax.set_xlabel("Months since signup (0 = the signup month)")
        ax.set_ylabel("Signup cohort")
        ax.grid(False)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(mesh, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label("Share of the cohort engaged in the month")
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        bar.outline.set_visible(False)
        return _to_drawing(fig)


LIFECYCLE_STYLE = {
    "new": {"color": DARK},
    "returning": {"color": MID},
    "resurrecting": {"color": LIGHT, "edgecolor": DARK},
    "dormant": {"color": "#f4f4f4", "edgecolor": INK},
}


def lifecycle_chart(rows: Sequence[tuple[date, str, int]], period: Period) -> Drawing:
    """PostHog-style lifecycle: new, returning and resurrecting up; dormant down."""
    with _style():
        fig = Figure(figsize=(WIDTH_IN, 2.7), layout="constrained")
        ax = fig.add_subplot()
        starts = sorted({r[0] for r in rows})
        if not starts:
            _empty(ax, "no lifecycle data in this window")
            return _to_drawing(fig)
        xs = list(range(len(starts)))
        values = {(r[0], r[1]): r[2] for r in rows}
        bottom = [0.0] * len(starts)
        for status in ("new", "returning", "resurrecting"):
            heights = [values.get((s, status), 0) for s in starts]
            ax.bar(
                xs, heights, bottom=bottom, width=0.7, linewidth=0.4, label=status,
                **LIFECYCLE_STYLE[status],
            )  # fmt: skip
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.bar(
            xs, [-values.get((s, "dormant"), 0) for s in starts], width=0.7, linewidth=0.4,
            label="dormant (shown below zero)", **LIFECYCLE_STYLE["dormant"],
        )  # fmt: skip
        ax.axhline(0, color=INK, linewidth=0.7)
        ax.set_xticks(xs, _period_ticks(starts, period.grain))
        ax.set_ylabel("Customers")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{abs(v):,.0f}"))
        ax.legend(loc="upper left", ncols=4, bbox_to_anchor=(0, 1.14))
        return _to_drawing(fig)
