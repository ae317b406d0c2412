"""The SQL behind every endpoint, over the published marts (DuckDB, parameterized).

Two families:

- **Compatible** queries answer the original NestJS ``/analytics/*`` and
  ``/activities/statistics`` endpoints in their shapes, from the marts instead of live SQL
  on the operational database (differences from the original are documented per function
  and in the README).
- **v2** queries return mart rows with filters. Without demographic filters they read the
  mart itself; with them, distinct-customer counts are recomputed exactly from
  ``mart_customer_activity_daily`` joined to ``mart_customer_profile`` (never by adding up
  per-segment distinct counts, which would double-count).

SQL text is built only from constants and allow-listed identifiers (``params.SEGMENTS``,
``params.DIMENSIONS``); every request value is a bound parameter.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from serving.params import DIMENSIONS, ENGAGEMENT_TYPES, SEGMENTS, Filters

Rows = list[dict[str, Any]]


def fetch(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Rows:
    cur.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def period_floor(day: date, interval: str) -> date:
    """Start of the period (ISO week, month, day) containing ``day``."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _range(column: str, f: Filters, *, floor: str | None = None) -> tuple[str, list[Any]]:
    """``column`` within [start, end]; with ``floor`` the start is moved to its period start."""
    clauses, params = [], []
    if f.start is not None:
        clauses.append(f"{column} >= ?")
        params.append(period_floor(f.start, floor) if floor else f.start)
    if f.end is not None:
        clauses.append(f"{column} <= ?")
        params.append(f.end)
    return (" and ".join(clauses) or "true"), params


def segment_where(segments: dict[str, list[str]], alias: str = "p") -> tuple[str, list[Any]]:
    """WHERE clause on mart_customer_profile for demographic filters (AND across, OR within)."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, values in segments.items():
        column = SEGMENTS[name]  # KeyError = not allow-listed; params.parse_filters prevents it
        if name == "pet_species":
            clause = f"list_has_any({alias}.{column}, ?::VARCHAR[])"
            params.append(values)
            if "none" in values:  # customers without pets are the 'none' segment
                clause = f"({clause} or coalesce(len({alias}.{column}), 0) = 0)"
        else:
            clause = f"list_contains(?::VARCHAR[], {alias}.{column})"
            params.append(values)
        clauses.append(clause)
    return (" and ".join(clauses) or "true"), params


def _types(f: Filters, column: str = "activity_type") -> tuple[str, list[Any]]:
    if not f.activity_types:
        return "true", []
    return f"list_contains(?::VARCHAR[], {column})", [f.activity_types]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------------------
# Compatible endpoints (original NestJS service)
# ---------------------------------------------------------------------------------------


def compat_customer_growth(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """New customers per period. The original grouped users created between the dates by
    ``date_trunc(interval, created_at)``; here every period overlapping the range is reported
    whole (from mart_customer_growth), and, as in the original, only periods with signups."""
    where, params = _range("period_start", f, floor=f.interval)
    rows = fetch(
        cur,
        f"""select period_start as date, new_customers as count
            from mart_customer_growth
            where "interval" = ? and new_customers > 0 and {where}
            order by period_start""",
        [f.interval, *params],
    )
    return [{"date": r["date"].isoformat(), "count": int(r["count"])} for r in rows]


def compat_customer_activity(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """Activities per period and type (customers' activities only, see README)."""
    where, params = _range("period_start", f, floor=f.interval)
    types_sql, types_params = _types(f)
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


def compat_activity_statistics(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """``/activities/statistics``: the same counts keyed ``period``/``type``/``count``."""
    return [
        {"period": r["date"], "type": r["activity_type"], "count": r["count"]}
        for r in compat_customer_activity(cur, f)
    ]


def compat_demographics(cur: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
    """Pet types (customers owning each species), last 12 months of signups, top 10 by activity."""
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
        """select customer_id, sum(events) as activity_count
           from mart_customer_activity_daily
           group by customer_id
           order by activity_count desc, customer_id
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


def compat_service_usage(cur: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, Rows]:
    """Bookings per service category and revenue per month *and currency* in the range."""
    where, params = _range("month", f, floor="month")
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
                "total_amount": _money(r["total_amount"]),
            }
            for r in revenue
        ],
    }


def compat_retention(cur: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
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
    # Decimal rounding half-up, like PostgreSQL's round(numeric, 2) in the original query.
    if rate is None:
        return 0.0
    return float(
        (Decimal(repr(float(rate))) * 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    )


# ---------------------------------------------------------------------------------------
# v2 endpoints
# ---------------------------------------------------------------------------------------


def v2_customer_growth(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("g.period_start", f, floor=f.interval)
    if not f.segments and not f.activity_types:
        return fetch(
            cur,
            f"""select g.period_start, g.new_customers, g.cumulative_customers, g.growth_rate,
                       g.active_customers, g.is_complete
                from mart_customer_growth g
                where g."interval" = ? and {where}
                order by g.period_start""",
            [f.interval, *params],
        )
    seg_sql, seg_params = segment_where(f.segments)
    types_sql, types_params = _types(f, "d.activity_type")
    # Whole history first (cumulative and growth need earlier periods), then the range.
    return fetch(
        cur,
        f"""with prof as (
                select p.customer_id, p.signup_date from mart_customer_profile p where {seg_sql}),
            new as (
                select date_trunc(?, signup_date)::date as period_start, count(*) as n
                from prof group by 1),
            act as (
                select date_trunc(?, d.activity_date)::date as period_start,
                       count(distinct d.customer_id) as a
                from mart_customer_activity_daily d join prof using (customer_id)
                where {types_sql}
                group by 1),
            series as (
                select g.period_start, g.is_complete,
                       coalesce(new.n, 0) as new_customers,
                       sum(coalesce(new.n, 0)) over (order by g.period_start) as cumulative_customers,
                       lag(coalesce(new.n, 0)) over (order by g.period_start) as prev_new,
                       coalesce(act.a, 0) as active_customers
                from mart_customer_growth g
                left join new using (period_start)
                left join act using (period_start)
                where g."interval" = ?)
            select g.period_start, g.new_customers::BIGINT as new_customers,
                   g.cumulative_customers::BIGINT as cumulative_customers,
                   case when g.prev_new > 0 then (g.new_customers - g.prev_new) / g.prev_new end
                       as growth_rate,
                   g.active_customers::BIGINT as active_customers, g.is_complete
            from series g
            where {where}
            order by g.period_start""",
        [*seg_params, f.interval, f.interval, *types_params, f.interval, *params],
    )


def v2_customer_activity(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("period_start", f, floor=f.interval)
    types_sql, types_params = _types(f)
    if not f.segments:
        return fetch(
            cur,
            f"""select period_start, activity_type, events, active_customers, is_complete
                from mart_customer_activity
                where "interval" = ? and {where} and {types_sql}
                order by period_start, activity_type""",
            [f.interval, *params, *types_params],
        )
    seg_sql, seg_params = segment_where(f.segments)
    types_sql, types_params = _types(f, "d.activity_type")
    return fetch(
        cur,
        f"""with act as (
                select date_trunc(?, d.activity_date)::date as period_start, d.activity_type,
                       d.customer_id, d.events
                from mart_customer_activity_daily d
                join mart_customer_profile p using (customer_id)
                where {seg_sql} and {types_sql})
            select a.period_start, a.activity_type, sum(a.events)::BIGINT as events,
                   count(distinct a.customer_id) as active_customers, c.is_complete
            from act a
            left join (select distinct period_start, is_complete from mart_customer_activity
                       where "interval" = ?) c using (period_start)
            where {where}
            group by a.period_start, a.activity_type, c.is_complete
            order by a.period_start, a.activity_type""",
        [f.interval, *seg_params, *types_params, f.interval, *params],
    )


def v2_active_customers(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """Exact distinct customers per period across the selected activity types and segments."""
    where, params = _range("period_start", f, floor=f.interval)
    seg_sql, seg_params = segment_where(f.segments)
    types_sql, types_params = _types(f, "d.activity_type")
    return fetch(
        cur,
        f"""with act as (
                select date_trunc(?, d.activity_date)::date as period_start, d.customer_id, d.events
                from mart_customer_activity_daily d
                join mart_customer_profile p using (customer_id)
                where {seg_sql} and {types_sql})
            select period_start, count(distinct customer_id) as active_customers,
                   sum(events)::BIGINT as events
            from act
            where {where}
            group by period_start
            order by period_start""",
        [f.interval, *seg_params, *types_params, *params],
    )


def v2_active_users(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("activity_date", f)
    if not f.segments and not f.activity_types:
        return fetch(
            cur,
            f"""select activity_date, dau, wau, mau, stickiness
                from mart_active_users where {where} order by activity_date""",
            params,
        )
    seg_sql, seg_params = segment_where(f.segments)
    types_sql, types_params = _types(f, "d.activity_type")
    return fetch(
        cur,
        f"""with days as (
                select activity_date from mart_active_users where {where}),
            c as (
                select distinct d.customer_id, d.activity_date
                from mart_customer_activity_daily d
                join mart_customer_profile p using (customer_id)
                where {seg_sql} and {types_sql}),
            w as (
                select days.activity_date,
                       count(distinct c.customer_id) filter (where c.activity_date = days.activity_date) as dau,
                       count(distinct c.customer_id) filter (where c.activity_date > days.activity_date - 7) as wau,
                       count(distinct c.customer_id) as mau
                from days
                left join c on c.activity_date between days.activity_date - 29 and days.activity_date
                group by days.activity_date)
            select activity_date, dau, wau, mau,
                   case when mau > 0 then dau / mau end as stickiness
            from w order by activity_date""",
        [*params, *seg_params, *types_params],
    )


def v2_customer_lifecycle(cur: duckdb.DuckDBPyConnection, f: Filters, statuses: list[str]) -> Rows:
    where, params = _range("period_start", f, floor=f.interval)
    status_sql = "list_contains(?::VARCHAR[], status)" if statuses else "true"
    return fetch(
        cur,
        f"""select period_start, status, customers, is_complete
            from mart_customer_lifecycle
            where "interval" = ? and {where} and {status_sql}
            order by period_start, status""",
        [f.interval, *params, *([statuses] if statuses else [])],
    )


def v2_activity_heatmap(cur: duckdb.DuckDBPyConnection) -> Rows:
    return fetch(
        cur,
        """select day_of_week, hour_of_day, events, active_customers
           from mart_activity_heatmap order by day_of_week, hour_of_day""",
    )


def v2_demographics(
    cur: duckdb.DuckDBPyConnection,
    f: Filters,
    dimension: str | None,
    currency: str | None,
    timezone: str,
) -> Rows:
    if not f.segments:
        clauses, params = [], []
        if dimension:
            clauses.append("dimension = ?")
            params.append(dimension)
        if currency:
            clauses.append("currency = ?")
            params.append(currency)
        where = " and ".join(clauses) or "true"
        return fetch(
            cur,
            f"""select dimension, segment, currency, customers, share_of_customers,
                       active_customers_30d, bookings, net_revenue
                from mart_customer_demographics where {where}
                order by dimension, customers desc, segment, currency""",
            params,
        )
    # Cross-tab under demographic filters: customer counts recomputed from the profile.
    seg_sql, seg_params = segment_where(f.segments)
    dims = [dimension] if dimension else list(DIMENSIONS)
    parts: list[str] = []
    for dim in dims:
        column = SEGMENTS[dim]  # allow-listed identifier
        if dim == "pet_species":
            seg_expr = f"unnest(case when coalesce(len(p.{column}), 0) = 0 then ['none'] else p.{column} end)"
        else:
            seg_expr = f"coalesce(p.{column}, 'unknown')"
        parts.append(
            f"select '{dim}' as dimension, {seg_expr} as segment, p.customer_id from filtered p"
        )
    union = " union all ".join(parts)
    return fetch(
        cur,
        f"""with filtered as (
                select p.* from mart_customer_profile p where {seg_sql}),
            hwm as (select max(high_water_mark) as hwm from _publication),
            active as (
                select distinct d.customer_id from mart_customer_activity_daily d, hwm
                where d.activity_date > timezone(?, hwm.hwm)::date - 30),
            pairs as ({union})
            select pairs.dimension, pairs.segment, null::VARCHAR as currency,
                   count(distinct pairs.customer_id) as customers,
                   count(distinct pairs.customer_id) / (select greatest(count(*), 1) from filtered)
                       as share_of_customers,
                   count(distinct active.customer_id) as active_customers_30d,
                   null::BIGINT as bookings, null::DECIMAL(18, 2) as net_revenue
            from pairs left join active using (customer_id)
            group by pairs.dimension, pairs.segment
            order by pairs.dimension, customers desc, pairs.segment""",
        [*seg_params, timezone],
    )


def v2_service_usage(
    cur: duckdb.DuckDBPyConnection, f: Filters, categories: list[str], currency: str | None
) -> Rows:
    where, params = _range("month", f, floor="month")
    extra = ""
    if categories:
        extra += " and list_contains(?::VARCHAR[], service_category)"
        params.append(categories)
    if currency:
        extra += " and currency = ?"
        params.append(currency)
    return fetch(
        cur,
        f"""select month, service_category, currency, bookings, completed, cancelled, no_show,
                   completion_rate, cancellation_rate, unique_customers, gross_revenue, refunds,
                   net_revenue, avg_booking_value, arpu
            from mart_service_usage where {where}{extra}
            order by month, service_category, currency""",
        params,
    )


def v2_cohort_retention(cur: duckdb.DuckDBPyConnection, f: Filters, max_months: int) -> Rows:
    where, params = _range("cohort_month", f, floor="month")
    return fetch(
        cur,
        f"""select cohort_month, months_since_signup, cohort_size, retained_customers,
                   retention_rate, retained_on_or_after, rolling_retention_rate
            from mart_cohort_retention
            where {where} and months_since_signup <= ?
            order by cohort_month, months_since_signup""",
        [*params, max_months],
    )


def v2_nday_retention(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("cohort_week", f, floor="week")
    return fetch(
        cur,
        f"""select cohort_week, day_n, cohort_size, retained_customers, retention_rate
            from mart_nday_retention where {where} order by cohort_week, day_n""",
        params,
    )


def v2_retention_monthly(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("m.month", f, floor="month")
    if not f.segments:
        return fetch(
            cur,
            f"""select m.month, m.engaged_customers, m.retained_customers, m.retention_rate,
                       m.churn_rate
                from mart_retention_monthly m where {where} order by m.month""",
            params,
        )
    seg_sql, seg_params = segment_where(f.segments)
    return fetch(
        cur,
        f"""with engaged as (
                select distinct date_trunc('month', d.activity_date)::date as month, d.customer_id
                from mart_customer_activity_daily d
                join mart_customer_profile p using (customer_id)
                where {seg_sql} and list_contains(?::VARCHAR[], d.activity_type)),
            counts as (
                select m.month, count(distinct e.customer_id) as engaged_customers,
                       count(distinct n.customer_id) as retained_customers
                from mart_retention_monthly m
                left join engaged e on e.month = m.month
                left join engaged n on n.customer_id = e.customer_id
                                   and n.month = (m.month + interval 1 month)::date
                where {where}
                group by m.month)
            select month, engaged_customers, retained_customers,
                   case when engaged_customers > 0 then retained_customers / engaged_customers end
                       as retention_rate,
                   case when engaged_customers > 0 then 1 - retained_customers / engaged_customers end
                       as churn_rate
            from counts order by month""",
        [*seg_params, list(ENGAGEMENT_TYPES), *params],
    )


def v2_repeat_customers(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = _range("month", f, floor="month")
    return fetch(
        cur,
        f"""select month, booking_customers, repeat_customers, repeat_rate
            from mart_repeat_customers where {where} order by month""",
        params,
    )


def segment_values(cur: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The segment values present, for the dashboard's filter pickers."""
    rows = fetch(
        cur,
        """select distinct dimension, segment from mart_customer_demographics
           order by dimension, segment""",
    )
    out: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    for r in rows:
        if r["dimension"] in out and r["segment"] is not None:
            out[r["dimension"]].append(str(r["segment"]))
    return out
