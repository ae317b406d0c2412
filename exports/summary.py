"""The ``executive_summary`` report: each area's headline numbers for the report date's month.

It is computed from the published marts only (no raw data), as one long table — one row per
metric (and per currency for money, never summed across currencies) — so that it reads top to
bottom in a spreadsheet and keeps the same shape whatever the data:

- growth: new and cumulative customers of the month (``mart_customer_growth``, interval month);
- activity: active customers of the month, and DAU/WAU/MAU/stickiness on the latest day of the
  month up to the report date (``mart_active_users``);
- bookings: bookings of the month, completion and cancellation rates (``mart_service_usage``
  summed over categories; rates recomputed from the sums, not averaged);
- revenue: net revenue of the month per currency (``mart_service_usage``);
- retention: the latest complete month up to the report month in ``mart_retention_monthly``
  (engaged customers, retention and churn rates);
- repeat: the repeat rate of the latest month up to the report month (``mart_repeat_customers``).

A metric whose mart has no row for the period has a NULL value (unknown, not zero).
``is_complete`` says whether the period ended before the data's high-water mark.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from exports.published import PublishedWarehouse, ReportData
from exports.reports import REPORTS_BY_NAME

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("section", pa.string()),
        pa.field("metric", pa.string()),
        pa.field("period_start", pa.date32()),
        pa.field("period_end", pa.date32()),
        pa.field("is_complete", pa.bool_()),
        pa.field("currency", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("unit", pa.string()),
    ]
)
SUMMARY_SQL_TYPES = [
    "VARCHAR",
    "VARCHAR",
    "DATE",
    "DATE",
    "BOOLEAN",
    "VARCHAR",
    "DOUBLE",
    "VARCHAR",
]
SUMMARY_SOURCES = (
    "mart_customer_growth",
    "mart_active_users",
    "mart_service_usage",
    "mart_retention_monthly",
    "mart_repeat_customers",
)


def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of the calendar month containing ``day``."""
    first = day.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    return first, next_first - timedelta(days=1)


def _num(value: Any) -> float | None:
    # DOUBLE keeps one value column for counts, rates and money; float(Decimal) of a
    # DECIMAL(18,2) sum prints back as the same two-decimal amount.
    return None if value is None else float(value)


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or not den:
        return None
    return float(num) / float(den)


def build_executive_summary(
    wh: PublishedWarehouse, report_date: date, hwm_date: date | None
) -> ReportData:
    """Compute the summary rows for the month of ``report_date``."""
    month_start, month_end = month_bounds(report_date)
    rows: list[dict[str, Any]] = []

    def add(
        section: str,
        metric: str,
        value: Any,
        unit: str,
        start: date | None,
        end: date | None,
        currency: str | None = None,
    ) -> None:
        complete = None if end is None or hwm_date is None else end < hwm_date
        rows.append(
            {
                "section": section,
                "metric": metric,
                "period_start": start,
                "period_end": end,
                "is_complete": complete,
                "currency": currency,
                "value": _num(value),
                "unit": unit,
            }
        )

    def one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
        found = wh.rows(sql, params)
        return found[0] if found else None

    growth = one(
        "select new_customers, cumulative_customers, active_customers "
        "from mart_customer_growth where interval = 'month' and period_start = ?",
        [month_start],
    ) or (None, None, None)
    add("growth", "new_customers", growth[0], "customers", month_start, month_end)
    add("growth", "cumulative_customers", growth[1], "customers", month_start, month_end)
    add("activity", "active_customers", growth[2], "customers", month_start, month_end)

    day = one(
        "select activity_date, dau, wau, mau, stickiness from mart_active_users "
        "where activity_date between ? and ? order by activity_date desc limit 1",
        [month_start, report_date],
    )
    day_date = day[0] if day else None
    for i, metric in enumerate(("dau", "wau", "mau", "stickiness"), start=1):
        unit = "rate" if metric == "stickiness" else "customers"
        add("activity", metric, day[i] if day else None, unit, day_date, day_date)

    usage = one(
        "select sum(bookings), sum(completed), sum(cancelled) from mart_service_usage "
        "where month = ?",
        [month_start],
    ) or (None, None, None)
    add("bookings", "bookings", usage[0], "bookings", month_start, month_end)
    add("bookings", "completion_rate", _ratio(usage[1], usage[0]), "rate", month_start, month_end)
    add("bookings", "cancellation_rate", _ratio(usage[2], usage[0]), "rate", month_start, month_end)

    revenue = wh.rows(
        "select currency, sum(net_revenue) from mart_service_usage where month = ? "
        "group by currency order by currency asc nulls last",
        [month_start],
    )
    for currency, amount in revenue or [(None, None)]:
        add("revenue", "net_revenue", amount, "money", month_start, month_end, currency)

    retention = one(
        "select month, engaged_customers, retention_rate, churn_rate from mart_retention_monthly "
        "where month <= ? order by month desc limit 1",
        [month_start],
    )
    r_start, r_end = month_bounds(retention[0]) if retention else (None, None)
    add("retention", "engaged_customers", retention and retention[1], "customers", r_start, r_end)
    add("retention", "retention_rate", retention and retention[2], "rate", r_start, r_end)
    add("retention", "churn_rate", retention and retention[3], "rate", r_start, r_end)

    repeat = one(
        "select month, repeat_rate from mart_repeat_customers "
        "where month <= ? order by month desc limit 1",
        [month_start],
    )
    p_start, p_end = month_bounds(repeat[0]) if repeat else (None, None)
    add("repeat", "repeat_rate", repeat and repeat[1], "rate", p_start, p_end)

    table = pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA)
    return ReportData(
        REPORTS_BY_NAME["executive_summary"],
        table,
        list(SUMMARY_SQL_TYPES),
        None,
        SUMMARY_SOURCES,
    )
