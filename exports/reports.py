"""The declared list of reports: what each one is, which mart it comes from, how it is ordered.

One report per published aggregate mart (the customer-level marts ``mart_customer_profile`` and
``mart_customer_activity_daily`` are deliberately absent: report files leave the warehouse and
must not carry per-customer rows) plus ``executive_summary``, which is derived from several marts
(see ``exports.summary``), and ``stakeholder_report``, the PDF for people who read rather than
analyse (see ``exports.stakeholder_pdf``), in a monthly and a weekly edition. ``grain`` gives
the deterministic row order of the files; ``period_column`` is the column ``--from/--to``
filter on (``None``: not time-grained, always exported whole); ``formats`` the file formats a
report is written in (tables: CSV, Parquet, XLSX; the stakeholder report: PDF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exports.errors import UnknownFormatError, UnknownReportError

TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")
FORMATS: tuple[str, ...] = (*TABLE_FORMATS, "pdf")
STAKEHOLDER_REPORT = "stakeholder_report"


@dataclass(frozen=True)
class Report:
    """One report file family (``<name>.csv|parquet|xlsx``, or ``<name>_<edition>.pdf``)."""

    name: str
    title: str
    mart: str | None  # the published mart it copies; None = derived from several marts
    grain: tuple[str, ...]
    period_column: str | None = None
    formats: tuple[str, ...] = TABLE_FORMATS

    @property
    def time_grained(self) -> bool:
        return self.period_column is not None


REPORTS: tuple[Report, ...] = (
    Report(
        "executive_summary",
        "Headline numbers of every area for the report date's month",
        None,
        ("metric", "currency"),
    ),
    Report(
        STAKEHOLDER_REPORT,
        "PDF for stakeholders: KPIs with changes, charts, what changed, definitions "
        "(monthly and weekly editions)",
        None,
        (),
        formats=("pdf",),
    ),
    Report(
        "customer_growth",
        "New, cumulative and active customers per day/week/month",
        "mart_customer_growth",
        ("interval", "period_start"),
        "period_start",
    ),
    Report(
        "customer_activity",
        "Events and active customers per period and activity type",
        "mart_customer_activity",
        ("interval", "period_start", "activity_type"),
        "period_start",
    ),
    Report(
        "active_users",
        "DAU, WAU, MAU and stickiness per day",
        "mart_active_users",
        ("activity_date",),
        "activity_date",
    ),
    Report(
        "customer_lifecycle",
        "New, returning, resurrecting and dormant customers per week/month",
        "mart_customer_lifecycle",
        ("interval", "period_start", "status"),
        "period_start",
    ),
    Report(
        "activity_heatmap",
        "Events and active customers by ISO weekday and hour (full history)",
        "mart_activity_heatmap",
        ("day_of_week", "hour_of_day"),
    ),
    Report(
        "customer_demographics",
        "Customers, activity, bookings and revenue by demographic segment and currency",
        "mart_customer_demographics",
        ("dimension", "segment", "currency"),
    ),
    Report(
        "service_usage",
        "Bookings, completion, revenue and ARPU per month, service category and currency",
        "mart_service_usage",
        ("month", "service_category", "currency"),
        "month",
    ),
    Report(
        "cohort_retention",
        "Monthly signup cohorts: retention 'on' and 'on or after' month k",
        "mart_cohort_retention",
        ("cohort_month", "months_since_signup"),
        "cohort_month",
    ),
    Report(
        "nday_retention",
        "Weekly signup cohorts: day-N retention (N = 1, 7, 14, 30, 60, 90)",
        "mart_nday_retention",
        ("cohort_week", "day_n"),
        "cohort_week",
    ),
    Report(
        "retention_monthly",
        "Month-over-month retention and churn of engaged customers",
        "mart_retention_monthly",
        ("month",),
        "month",
    ),
    Report(
        "repeat_customers",
        "Customers with two or more bookings, per month",
        "mart_repeat_customers",
        ("month",),
        "month",
    ),
    Report(
        "recommended_services_by_city",
        "Top recommended services per customer city (how many active customers' top 10)",
        "mart_recommended_services_by_city",
        ("country", "city", "rank"),
    ),
)

REPORTS_BY_NAME: dict[str, Report] = {r.name: r for r in REPORTS}


def resolve_reports(names: Sequence[str] | None) -> list[Report]:
    """The reports asked for, in declared order; all of them when ``names`` is empty.

    A mart name (``mart_customer_growth``) is accepted for its report (``customer_growth``).
    """
    if not names:
        return list(REPORTS)
    wanted: set[str] = set()
    unknown: list[str] = []
    for raw in names:
        name = raw.strip()
        if name not in REPORTS_BY_NAME and name.removeprefix("mart_") in REPORTS_BY_NAME:
            name = name.removeprefix("mart_")
        if name in REPORTS_BY_NAME:
            wanted.add(name)
        else:
            unknown.append(raw)
    if unknown:
        raise UnknownReportError(
            f"unknown report {', '.join(repr(u) for u in unknown)}: valid reports are "
            + ", ".join(r.name for r in REPORTS)
        )
    return [r for r in REPORTS if r.name in wanted]


def resolve_formats(formats: Sequence[str] | None) -> list[str]:
    """The formats asked for, deduplicated, in canonical order (csv, parquet, xlsx, pdf)."""
    if not formats:
        return list(FORMATS)
    asked = {f.strip().lower().lstrip(".") for f in formats}
    unknown = sorted(asked - set(FORMATS))
    if unknown:
        raise UnknownFormatError(
            f"unknown format {', '.join(repr(u) for u in unknown)}: use " + ", ".join(FORMATS)
        )
    return [f for f in FORMATS if f in asked]


def resolve_selection(
    names: Sequence[str] | None, formats: Sequence[str] | None
) -> list[tuple[Report, list[str]]]:
    """Each selected report with the asked formats it is written in (reports with none dropped).

    Naming a report and only formats it is not written in is a mistake, reported in one line
    (``--report customer_growth --format pdf``); without ``--report`` every report that has
    one of the asked formats is selected (``--format pdf`` alone: the stakeholder report).
    """
    reports = resolve_reports(names)
    fmts = resolve_formats(formats)
    selected = [(r, [f for f in fmts if f in r.formats]) for r in reports]
    if names:
        wrong = [r for r, fs in selected if not fs]
        if wrong:
            raise UnknownFormatError(
                "; ".join(
                    f"{r.name} is written as {', '.join(r.formats)}, not {', '.join(fmts)}"
                    for r in wrong
                )
                + ": ask for one of its formats (or leave --format out)"
            )
    selected = [(r, fs) for r, fs in selected if fs]
    if not selected:
        raise UnknownFormatError(f"no report is written as {', '.join(fmts)}")
    return selected
