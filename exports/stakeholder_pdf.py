"""The stakeholder report as a PDF (ReportLab): cover and KPI tiles, charts, what changed, appendix.

:func:`write_stakeholder_pdf` lays out one :class:`~exports.stakeholder_data.StakeholderData` on
A4 pages:

1. cover — edition, period, publication id, published time, data high-water mark — and the KPI
   tiles, each with its change against the previous period and the same period a year earlier;
2. customers — growth, and daily/weekly/monthly actives;
3. activity — active customers by activity type, and the lifecycle chart;
4. revenue and retention — net revenue by service category per currency, cohort heatmap;
5. what changed — the largest movers, then the anomalies and trends of the insights marts when
   the publication holds them;
6. appendix — every metric's definition and how the figures are printed.

The bytes depend only on the data: ReportLab's invariant mode (fixed document id), the
publication time as the document's creation and modification date, DejaVu Sans (shipped with
matplotlib) embedded as a subset, so the same publication always gives the same file on any
machine. Numbers are formatted by :mod:`exports.number_format`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from exports import number_format as nf
from exports import stakeholder_charts as charts
from exports.report_fonts import FONT, FONT_BOLD, register_fonts
from exports.stakeholder_data import (
    MOVER_COUNT,
    MOVER_MIN_BASE,
    Kpi,
    StakeholderData,
)
from petpro.durability import fsync_file

MARGIN = 15 * mm
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#bfbfbf")
TILE_BG = colors.HexColor("#f2f5f9")
HEAD_BG = colors.HexColor("#dde7f2")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=MUTED),
        "brand": ParagraphStyle(
            "brand", parent=base, fontName=FONT_BOLD, fontSize=10, textColor=MUTED
        ),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=24, leading=29),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=13, leading=17),
        "h1": ParagraphStyle(
            "h1", parent=base, fontName=FONT_BOLD, fontSize=14, leading=18, spaceAfter=4
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=8
        ),
        "tile_title": ParagraphStyle(
            "tile_title", parent=base, fontName=FONT_BOLD, fontSize=9, leading=11
        ),
        "tile_period": ParagraphStyle(
            "tile_period", parent=base, fontSize=7.5, leading=9, textColor=MUTED
        ),
        "tile_value": ParagraphStyle(
            "tile_value", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20
        ),
        "tile_cmp": ParagraphStyle("tile_cmp", parent=base, fontSize=8.5, leading=10.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "cell_bold": ParagraphStyle("cell_bold", parent=base, fontName=FONT_BOLD, fontSize=8),
        "num": ParagraphStyle("num", parent=base, fontSize=8, leading=10, alignment=TA_RIGHT),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "n/a"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _pdf_date(moment: datetime) -> str:
    utc = moment.astimezone(ZoneInfo("UTC"))
    return utc.strftime("D:%Y%m%d%H%M%S+00'00'")


class _NumberedCanvas(Canvas):
    """Draws the page footer once the page count is known ("page 2 of 6")."""

    footer_left = ""
    creation_date = "D:20000101000000+00'00'"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["invariant"] = 1
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []
        # Fixed dates (the publication's) instead of the wall clock: reproducible bytes.
        stamp = self.creation_date
        self.setDateFormatter(lambda *_args: stamp)

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        width, _ = A4
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN, 11 * mm, width - MARGIN, 11 * mm)
        self.setFont(FONT, 7)
        self.setFillColor(MUTED)
        self.drawString(MARGIN, 7 * mm, self.footer_left)
        self.drawRightString(width - MARGIN, 7 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


# ---- building blocks ------------------------------------------------------------------------
def _fitted(text: str, style: ParagraphStyle, width: float) -> ParagraphStyle:
    """``style``, its size reduced until ``text`` fits on one line of ``width``."""
    size = style.fontSize
    while size > 9 and pdfmetrics.stringWidth(text, style.fontName, size) > width:
        size -= 0.5
    if size == style.fontSize:
        return style
    return ParagraphStyle(f"{style.name}-{size}", parent=style, fontSize=size, leading=size * 1.25)


def _tile(kpi: Kpi, s: dict[str, ParagraphStyle], width: float) -> Table:
    """A KPI tile: title, period, value, then each comparison as a label line and a value line."""
    title = kpi.title + (f" ({kpi.currency})" if kpi.unit == "money" else "")
    value = kpi.show(kpi.value)
    inner = width - 12
    lines = [
        [Paragraph(_esc(title), s["tile_title"])],
        [Paragraph(_esc(kpi.period_label), s["tile_period"])],
        [Paragraph(_esc(value), _fitted(value, s["tile_value"], inner))],
    ]
    for cmp in (kpi.previous, kpi.year_earlier):
        lines.append([Paragraph(_esc(f"vs {cmp.period_label}"), s["tile_period"])])
        figure = f"{kpi.show(cmp.value)} ({kpi.show_change(cmp.change)})"
        lines.append([Paragraph(_esc(figure), s["tile_cmp"])])
    table = Table(lines, colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), TILE_BG),
                ("LINEABOVE", (0, 0), (-1, 0), 2, colors.HexColor("#1f4e79")),
                ("LEFTPADDING", (0, 0), (-1, -1), 7),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, 0), 6),
                ("BOTTOMPADDING", (0, 2), (-1, 2), 4),
                ("TOPPADDING", (0, 5), (-1, 5), 4),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 7),
            ]
        )
    )
    return table


def _tiles(kpis: Sequence[Kpi], s: dict[str, ParagraphStyle], frame_width: float) -> Table:
    columns = 3
    gap = 6
    width = (frame_width - gap * (columns - 1)) / columns
    cells = [_tile(k, s, width - gap) for k in kpis]
    while len(cells) % columns:
        cells.append(Spacer(1, 1))
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    grid = Table(rows, colWidths=[width] * columns)
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), gap),
            ]
        )
    )
    return grid


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    s: dict[str, ParagraphStyle],
    numeric: Sequence[int] = (),
) -> Table:
    def cell(text: str, col: int, bold: bool = False) -> Paragraph:
        style = s["num"] if col in numeric else s["cell_bold" if bold else "cell"]
        if bold and col in numeric:
            style = ParagraphStyle("numbold", parent=s["num"], fontName=FONT_BOLD)
        return Paragraph(_esc(text), style)

    data = [[cell(h, i, bold=True) for i, h in enumerate(header)]]
    data += [[cell(v, i) for i, v in enumerate(row)] for row in rows]
    table = Table(data, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _section(title: str, caption: str, body: Flowable, s: dict[str, ParagraphStyle]) -> Flowable:
    return KeepTogether(
        [Paragraph(_esc(title), s["h2"]), Paragraph(_esc(caption), s["small"]), Spacer(1, 4), body]
    )


# ---- pages -------------------------------------------------------------------------------------
def _cover(d: StakeholderData, s: dict[str, ParagraphStyle], fw: float) -> list[Flowable]:
    tz = ZoneInfo(d.timezone)
    edition = "Monthly" if d.edition == "monthly" else "Weekly"
    unit = "month" if d.period.grain == "month" else "week"
    facts = [
        ("Period", d.period.long_label),
        (
            "Compared with",
            f"{d.period.previous().label} (previous {unit}) and "
            f"{d.period.year_earlier().label} (a year earlier)",
        ),
        ("Publication", d.run_id),
        ("Published at", f"{_local(d.published_at, tz)} {d.timezone}"),
        ("Data high-water mark", f"{_local(d.high_water_mark, tz)} {d.timezone}"),
    ]
    meta = Table(
        [[Paragraph(_esc(k), s["cell_bold"]), Paragraph(_esc(v), s["cell"])] for k, v in facts],
        colWidths=[42 * mm, fw - 42 * mm],
    )
    meta.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    monthly_note = (
        f"Net revenue, repeat rate and retention are monthly metrics: their tiles show "
        f"{d.month.label}, the last complete month of the week."
        if d.period.grain == "week"
        else ""
    )
    return [
        Paragraph("PetPro · customer analytics", s["brand"]),
        Spacer(1, 6),
        Paragraph("Stakeholder report", s["title"]),
        Paragraph(_esc(f"{edition} edition · {d.period.long_label}"), s["subtitle"]),
        Spacer(1, 10),
        meta,
        Spacer(1, 14),
        Paragraph("At a glance", s["h1"]),
        Paragraph(
            _esc(
                "Each tile: the figure of the period, then the same figure for the previous "
                "period and a year earlier, with the change (percent for counts and money, "
                "percentage points for rates). " + monthly_note
            ),
            s["small"],
        ),
        Spacer(1, 6),
        _tiles(d.kpis, s, fw),
        PageBreak(),
    ]


def _chart_pages(d: StakeholderData, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    p, m, c = d.period, d.month, d.charts
    unit = "month" if p.grain == "month" else "week"
    return [
        Paragraph("Customers", s["h1"]),
        _section(
            "Customer growth",
            f"New customers per {unit} up to {p.label} (bars; the report's {unit} dark) and "
            "all customers signed up so far (line, right axis).",
            charts.growth_chart(c.growth, p),
            s,
        ),
        _section(
            "Daily, weekly and monthly active customers",
            f"Distinct customers with any activity on the day (DAU), in the trailing week (WAU) "
            f"and in the trailing month (MAU), up to the end of {p.label} (shaded).",
            charts.actives_chart(c.actives, p),
            s,
        ),
        PageBreak(),
        Paragraph("Activity", s["h1"]),
        _section(
            "Activity by type",
            f"Active customers per activity type in {p.label} (solid) and "
            f"{p.previous().label} (grey).",
            charts.activity_chart(c.activity_by_type, p),
            s,
        ),
        _section(
            "Customer lifecycle",
            f"Per {unit}: new, returning and resurrecting active customers (stacked above zero) "
            f"and customers who went dormant (below zero), up to {p.label}.",
            charts.lifecycle_chart(c.lifecycle, p),
            s,
        ),
        PageBreak(),
        Paragraph("Revenue and retention", s["h1"]),
        _section(
            "Net revenue by service category and currency",
            f"Net revenue (collected payments minus refunds) per service category in {m.label} "
            f"(solid) and {m.previous().label} (grey); one panel per currency, never added up "
            "across currencies.",
            charts.revenue_chart(c.revenue, m),
            s,
        ),
        _section(
            "Cohort retention",
            f"Monthly signup cohorts up to {m.label}: the share of each cohort engaged (a booking "
            "or a payment) in each month after signup; darker is higher, blank is not yet "
            "complete.",
            charts.cohort_chart(c.cohorts, m),
            s,
        ),
        PageBreak(),
    ]


def _what_changed(d: StakeholderData, s: dict[str, ParagraphStyle], fw: float) -> list[Flowable]:
    p = d.period
    out: list[Flowable] = [
        Paragraph("What changed", s["h1"]),
        Paragraph("Largest movers", s["h2"]),
        Paragraph(
            _esc(
                f"The {MOVER_COUNT} series that changed most from {p.previous().label} to "
                f"{p.label}, by relative change; series below {MOVER_MIN_BASE} in "
                f"{p.previous().label} are left out as noise."
            ),
            s["small"],
        ),
        Spacer(1, 4),
    ]
    if d.movers:
        rows = [
            [m.label, m.show(m.previous), m.show(m.current), nf.signed_percent(m.change)]
            for m in d.movers
        ]
        out.append(
            _table(
                ["Series", p.previous().label, p.label, "Change"],
                rows,
                [fw * 0.46, fw * 0.2, fw * 0.2, fw * 0.14],
                s,
                numeric=(1, 2, 3),
            )
        )
    else:
        out.append(Paragraph("No series qualifies for this period.", s["body"]))

    out.append(Paragraph("Anomalies", s["h2"]))
    if not d.anomalies.present:
        out.append(
            Paragraph(
                "Not in this publication: anomaly detection (mart_metric_anomalies) has not been "
                "published yet.",
                s["small"],
            )
        )
    elif not d.anomalies.anomalies:
        out.append(Paragraph(_esc(f"No anomaly was flagged in {p.label}."), s["body"]))
    else:
        shown = len(d.anomalies.anomalies)
        out.append(
            Paragraph(
                _esc(
                    f"{nf.count(d.anomalies.anomaly_total)} anomalies flagged in {p.label}; "
                    f"the {nf.count(shown)} with the largest scores:"
                ),
                s["small"],
            )
        )
        out.append(Spacer(1, 4))
        rows = [
            [
                a.day.isoformat(),
                str(a.metric),
                nf.measure(a.observed),
                nf.measure(a.expected),
                f"{nf.measure(a.lower)} to {nf.measure(a.upper)}",
                str(a.direction or ""),
                nf.measure(a.score),
            ]
            for a in d.anomalies.anomalies
        ]
        out.append(
            _table(
                ["Date", "Metric", "Observed", "Expected", "Expected range", "Direction", "Score"],
                rows,
                [fw * w for w in (0.13, 0.22, 0.12, 0.12, 0.2, 0.11, 0.1)],
                s,
                numeric=(2, 3, 4, 6),
            )
        )

    out.append(Paragraph("Trends", s["h2"]))
    if not d.trends.present:
        out.append(
            Paragraph(
                "Not in this publication: trend statistics (mart_metric_trends) have not been "
                "published yet.",
                s["small"],
            )
        )
    elif not d.trends.trends:
        out.append(Paragraph(_esc(f"No trend was computed for {p.label}."), s["body"]))
    else:
        rows = [
            [
                str(t.metric),
                nf.measure(t.value),
                nf.signed_percent(None if t.change_previous is None else float(t.change_previous)),
                nf.signed_percent(None if t.change_year is None else float(t.change_year)),
                nf.measure(t.slope),
                nf.NA if t.p_value is None else f"{float(t.p_value):.3f}",
                str(t.label or ""),
            ]
            for t in d.trends.trends
        ]
        out.append(
            _table(
                ["Metric", "Value", "vs previous", "vs year earlier", "Slope", "p-value", "Trend"],
                rows,
                [fw * w for w in (0.24, 0.13, 0.13, 0.14, 0.12, 0.11, 0.13)],
                s,
                numeric=(1, 2, 3, 4, 5),
            )
        )
    out.append(PageBreak())
    return out


DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    (
        "New customers",
        "Customers (users with the customer role) whose signup falls in the period.",
        "mart_customer_growth.new_customers",
    ),
    (
        "Active customers",
        "Distinct customers with at least one activity of any type in the period.",
        "mart_customer_growth.active_customers",
    ),
    (
        "Bookings (monthly edition)",
        "Bookings created in the month, whatever their current status, summed over service "
        "categories and currencies.",
        "mart_service_usage.bookings",
    ),
    (
        "Bookings created (weekly edition)",
        "booking_created activities by customers in the week (bookings are counted per month "
        "only in the service-usage mart).",
        "mart_customer_activity.events",
    ),
    (
        "Net revenue",
        "Collected payments (paid or refunded) minus refunds, by payment month, per currency; "
        "never added up across currencies.",
        "mart_service_usage.net_revenue",
    ),
    (
        "Repeat rate",
        "Among customers with at least one booking up to the end of the month, the share with "
        "two or more.",
        "mart_repeat_customers.repeat_rate",
    ),
    (
        "Retention",
        "Of the customers engaged (a booking or a payment) in month M, the share engaged again "
        "in month M+1; shown for the latest such pair up to the report's month.",
        "mart_retention_monthly.retention_rate",
    ),
    (
        "DAU / WAU / MAU",
        "Distinct customers active on the day / in the 7 days / in the 30 days ending on the day.",
        "mart_active_users",
    ),
    (
        "Activity by type",
        "Distinct customers with at least one activity of that type in the period.",
        "mart_customer_activity.active_customers",
    ),
    (
        "Lifecycle",
        "new: signed up and active in the period; returning: active in this and the previous "
        "period; resurrecting: active now, not in the previous period, signed up before; "
        "dormant: active in the previous period, not in this one.",
        "mart_customer_lifecycle.customers",
    ),
    (
        "Cohort retention",
        "Customers of a monthly signup cohort engaged in calendar month cohort + k, divided by "
        "the cohort's size; complete months only.",
        "mart_cohort_retention.retention_rate",
    ),
    (
        "Anomalies",
        "Days on which a metric fell outside its expected range, with the observed and expected "
        "values, the range, the direction and the score of the detection method.",
        "mart_metric_anomalies",
    ),
    (
        "Trends",
        "Per metric and period: value, relative change against the previous period and a year "
        "earlier, fitted slope, its p-value and the label rising, falling or flat.",
        "mart_metric_trends",
    ),
)

READING_NOTES: tuple[str, ...] = (
    "Periods are calendar months and ISO weeks (Monday to Sunday) in the business time zone "
    "named on the cover. An edition covers the last period whose last day the published data "
    "reaches (its high-water mark).",
    "The same week a year earlier is the week that starts 52 weeks (364 days) before, so it "
    "holds the same weekdays.",
    "Counts are printed with thousands separators, rates as percentages with one decimal, money "
    "with its ISO currency code and two decimals. Changes of counts and money are relative "
    "(percent); changes of rates are differences in percentage points (pp).",
    "n/a: the marts have no value for that period (before the data began, or not yet "
    "complete). A period inside the data with no activity of a kind counts zero.",
    "Every figure comes from the published marts of the publication named on the cover; "
    "nothing is read from the operational database.",
)


def _appendix(d: StakeholderData, s: dict[str, ParagraphStyle], fw: float) -> list[Flowable]:
    rows = [
        [
            Paragraph(_esc(term), s["cell_bold"]),
            [Paragraph(_esc(text), s["cell"]), Paragraph(_esc(f"Source: {source}"), s["small"])],
        ]
        for term, text, source in DEFINITIONS
    ]
    table = Table(
        [[Paragraph("Metric", s["cell_bold"]), Paragraph("Definition", s["cell_bold"])], *rows],
        colWidths=[fw * 0.24, fw * 0.76],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return [
        Paragraph("Appendix: definitions", s["h1"]),
        table,
        Paragraph("How to read the figures", s["h2"]),
        *[Paragraph(_esc("• " + note), s["body"]) for note in READING_NOTES],
        Spacer(1, 6),
        Paragraph(_esc("Marts read: " + ", ".join(d.sources) + "."), s["small"]),
    ]


def write_stakeholder_pdf(data: StakeholderData, path: Path) -> int:
    """Write the report for ``data`` to ``path`` (fsynced); return the number of pages."""
    register_fonts()
    styles = _styles()
    width, height = A4
    frame_width = width - 2 * MARGIN
    edition = "Monthly" if data.edition == "monthly" else "Weekly"
    title = f"PetPro stakeholder report, {edition.lower()} edition, {data.period.label}"

    class Canvas_(_NumberedCanvas):
        footer_left = (
            f"PetPro stakeholder report · {edition} edition · {data.period.label} · "
            f"publication {data.run_id}"
        )
        creation_date = _pdf_date(data.published_at)

    doc = BaseDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=16 * mm,
        title=title,
        author="PetPro analytics",
        subject=f"{data.period.long_label}; publication {data.run_id}",
        creator="petpro export",
        keywords="",
        invariant=1,
        pageCompression=1,
    )
    frame = Frame(MARGIN, 16 * mm, frame_width, height - MARGIN - 16 * mm, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    story = [
        *_cover(data, styles, frame_width),
        *_chart_pages(data, styles),
        *_what_changed(data, styles, frame_width),
        *_appendix(data, styles, frame_width),
    ]
    doc.build(story, canvasmaker=Canvas_)
    fsync_file(path)
    return doc.page
