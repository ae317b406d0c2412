"""Answers of the endpoints compatible with the original NestJS service, from the marts.

The original ``/analytics/*`` and ``/activities/statistics`` answered with live SQL on the
operational database; these select the same figures from the published marts and reshape
them into the original shapes (differences are documented per function and in the README).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from serving.params import Filters
from serving.sql import Rows, date_range, fetch, money, types_filter


def customer_growth(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """New customers per period. The original grouped users created between the dates by the
    period of their signup; here every period overlapping the range is reported whole (from
    mart_customer_growth), and, as in the original, only periods with signups."""
    where, params = date_range("period_start", f, floor=f.interval)
    rows = fetch(
        cur,
        f"""select period_start as date, new_customers as count
            from mart_customer_growth
            where "interval" = ? and new_customers > 0 and {where}
            order by period_start""",
        [f.interval, *params],
    )
    return [{"date": r["date"].isoformat(), "count": int(r["count"])} for r in rows]


def customer_activity(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """Activities per period and type (customers' activities only, see README)."""
    where, params = date_range("period_start", f, floor=f.interval)
    types_sql, types_params = types_filter(f)
    rows = fetch(
        cur,
        f"""select period_start, activity_type, events
            from mart_customer_activity
            where "interval" = ? and events > 0 and {where} and {types_sql}
            order by period_start, activity_type""",
        [f.interval, *params, *types_params],
    )
    return [
        {
            "date": r["period_start"].isoformat(),
            "activity_type": r["activity_type"],
            "count": int(r["events"]),
        }
        for r in rows
    ]


def activity_statistics(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """``/activities/statistics``: the same counts keyed ``period``/``type``/``count``."""
    return [
        {"period": r["date"], "type": r["activity_type"], "count": r["count"]}
        for r in customer_activity(cur, f)
    ]


def demographics(cur: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
    """Pet types (customers owning each species), last 12 months of signups, top 10 by activity."""
    # The demographics mart repeats a segment's customer count on each of its currency rows.
    pets = fetch(
        cur,
        """select segment as type, max(customers) as count
           from mart_customer_demographics
           where dimension = 'pet_species' and segment <> 'none'
           group by segment
           order by count desc, type""",
    )
    months = fetch(
        cur,
        """select month, count from (
               select period_start as month, new_customers as count
               from mart_customer_growth
               where "interval" = 'month' and new_customers > 0
               order by period_start desc
               limit 12)
           order by month""",
    )
    top = fetch(
        cur,
        """select customer_id, events as activity_count
           from mart_customer_activity_summary
           where events > 0
           order by events desc, customer_id
           limit 10""",
    )
    return {
        "petTypesData": [{"type": r["type"], "count": int(r["count"])} for r in pets],
        "registrationByMonth": [
            {"month": r["month"].isoformat(), "count": int(r["count"])} for r in months
        ],
        "topActiveUsers": [
            {"userId": str(r["customer_id"]), "activity_count": int(r["activity_count"])}
            for r in top
        ],
    }


def service_usage(cur: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, Rows]:
    """Bookings per service category and revenue per month *and currency* in the range.

    The original answer has no month × category × currency grain: it rolls the mart's
    additive counts and amounts up over the dimensions it does not show (a sum of disjoint
    parts, not a metric of its own; rates are never summed).
    """
    where, params = date_range("month", f, floor="month")
    by_type = fetch(
        cur,
        f"""select service_category as service_type, sum(bookings) as count
            from mart_service_usage
            where {where}
            group by service_category
            having sum(bookings) > 0
            order by count desc, service_type""",
        params,
    )
    revenue = fetch(
        cur,
        f"""select month, currency, sum(gross_revenue) as total_amount
            from mart_service_usage
            where {where} and currency is not null
            group by month, currency
            having sum(gross_revenue) <> 0
            order by month, currency""",
        params,
    )
    return {
        "bookingsByType": [
            {"service_type": r["service_type"], "count": int(r["count"])} for r in by_type
        ],
        "monthlyRevenue": [
            {
                "month": r["month"].isoformat(),
                "currency": r["currency"],
                "total_amount": money(r["total_amount"]),
            }
            for r in revenue
        ],
    }


def retention(cur: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
    """Repeat bookers (top 50, by id only) and monthly retention, newest first, 12 months."""
    repeaters = fetch(
        cur,
        """select customer_id, bookings
           from mart_customer_profile
           where bookings > 1
           order by bookings desc, customer_id
           limit 50""",
    )
    months = fetch(
        cur,
        """select month, engaged_customers, retained_customers, retention_rate
           from mart_retention_monthly
           order by month desc
           limit 12""",
    )
    return {
        "customersWithMultipleBookings": [
            {"id": str(r["customer_id"]), "booking_count": int(r["bookings"])} for r in repeaters
        ],
        "retentionByMonth": [
            {
                "month": r["month"].isoformat(),
                "total_users": int(r["engaged_customers"]),
                "retained_users": int(r["retained_customers"]),
                "retention_rate": _percent(r["retention_rate"]),
            }
            for r in months
        ],
    }


def _percent(rate: float | None) -> float:
    # The mart's fraction shown as the original's percentage: Decimal rounding half-up, like
    # PostgreSQL's round(numeric, 2) in the original query (a unit, not a formula).
    if rate is None:
        return 0.0
    return float(
        (Decimal(repr(float(rate))) * 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    )
