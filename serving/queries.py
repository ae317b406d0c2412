"""The SQL behind the v2 endpoints: selections and filters over the published marts.

Every metric is defined once, in its dbt model; this module selects and filters:

- **Mart answers** (no segment or activity-type filter) select the mart's own columns.
- **Customer answers** (under segment or activity-type filters) cannot come from an
  aggregate mart, so they count customers of the customer-level marts
  (``mart_customer_segments`` for who is in a segment, ``mart_customer_activity_daily``,
  ``mart_customer_engaged_months``, ``mart_customer_activity_summary``): exact distinct
  counts, never sums of per-segment distinct counts. Whatever combines those counts into a
  metric (running total, previous period, growth rate, rolling window, rate, period bucket)
  is a dbt macro rendered by :mod:`serving.formulas`, the same one the mart uses.
"""

from __future__ import annotations

import duckdb

from serving.formulas import formulas
from serving.params import DIMENSIONS, Filters
from serving.sql import Rows, customers_cte, date_range, fetch, segment_join, types_filter


def customer_growth(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("period_start", f, floor=f.interval)
    if not f.by_customer:
        return fetch(
            cur,
            f"""select period_start, new_customers, cumulative_customers, growth_rate,
                       active_customers, is_complete
                from mart_customer_growth
                where "interval" = ? and {where}
                order by period_start""",
            [f.interval, *params],
        )
    fx = formulas()
    customers, customer_params = customers_cte(f)
    types_sql, types_params = types_filter(f, "d.activity_type")
    # New customers per period over the whole history first: the running total and the
    # previous period need the periods before the range. Active customers need only the
    # periods in it (the range's filter cannot reach them through the window functions).
    active_where, active_params = date_range(
        fx.period_start(f.interval, "d.activity_date"), f, floor=f.interval
    )
    return fetch(
        cur,
        f"""with {customers},
            new as (
                select {fx.period_start(f.interval, "p.signup_date")} as period_start,
                       count(*) as new_customers
                from mart_customer_profile p {segment_join(f)}
                group by 1),
            active as (
                select {fx.period_start(f.interval, "d.activity_date")} as period_start,
                       count(distinct d.customer_id) as active_customers
                from mart_customer_activity_daily d {segment_join(f)}
                where {types_sql} and {active_where}
                group by 1),
            counted as (
                select g.period_start, g.is_complete,
                       coalesce(new.new_customers, 0) as new_customers,
                       coalesce(active.active_customers, 0) as active_customers
                from mart_customer_growth g
                left join new using (period_start)
                left join active using (period_start)
                where g."interval" = ?),
            series as (
                select counted.*,
                       {fx("cumulative", "new_customers", "period_start")} as cumulative_customers,
                       {fx("previous_period", "new_customers", "period_start")} as previous_new
                from counted)
            select period_start, new_customers::BIGINT as new_customers,
                   cumulative_customers::BIGINT as cumulative_customers,
                   ({fx("growth_rate", "new_customers", "previous_new")})::DOUBLE as growth_rate,
                   active_customers::BIGINT as active_customers, is_complete
            from series
            where {where}
            order by period_start""",
        [*customer_params, *types_params, *active_params, f.interval, *params],
    )


def customer_activity(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("period_start", f, floor=f.interval)
    if not f.segments:
        types_sql, types_params = types_filter(f)
        return fetch(
            cur,
            f"""select period_start, activity_type, events, active_customers, is_complete
                from mart_customer_activity
                where "interval" = ? and {where} and {types_sql}
                order by period_start, activity_type""",
            [f.interval, *params, *types_params],
        )
    fx = formulas()
    customers, customer_params = customers_cte(f)
    types_sql, types_params = types_filter(f, "d.activity_type")
    where, params = date_range("a.period_start", f, floor=f.interval)
    return fetch(
        cur,
        f"""with {customers},
            act as (
                select {fx.period_start(f.interval, "d.activity_date")} as period_start,
                       d.activity_type, d.customer_id, d.events
                from mart_customer_activity_daily d {segment_join(f)}
                where {types_sql})
            select a.period_start, a.activity_type, sum(a.events)::BIGINT as events,
                   count(distinct a.customer_id) as active_customers, g.is_complete
            from act a
            left join mart_customer_growth g
                   on g."interval" = ? and g.period_start = a.period_start
            where {where}
            group by a.period_start, a.activity_type, g.is_complete
            order by a.period_start, a.activity_type""",
        [*customer_params, *types_params, f.interval, *params],
    )


def active_customers(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    """Exact distinct customers per period across the selected activity types and segments."""
    if not f.by_customer:
        # Every customer and type: the growth mart's active customers (any activity in the
        # period) with the activity mart's events added over the types, as every other answer
        # without a filter reads its mart. The inner join omits periods without activity, as
        # the customer-level count does.
        where, params = date_range("g.period_start", f, floor=f.interval)
        return fetch(
            cur,
            f"""select g.period_start, g.active_customers, a.events
                from mart_customer_growth g
                join (select period_start, sum(events)::BIGINT as events
                      from mart_customer_activity where "interval" = ?
                      group by period_start) a on a.period_start = g.period_start
                where g."interval" = ? and {where}
                order by g.period_start""",
            [f.interval, f.interval, *params],
        )
    fx = formulas()
    where, params = date_range("period_start", f, floor=f.interval)
    customers, customer_params = customers_cte(f)
    types_sql, types_params = types_filter(f, "d.activity_type")
    return fetch(
        cur,
        f"""with {customers},
            act as (
                select {fx.period_start(f.interval, "d.activity_date")} as period_start,
                       d.customer_id, d.events
                from mart_customer_activity_daily d {segment_join(f)}
                where {types_sql})
            select period_start, count(distinct customer_id) as active_customers,
                   sum(events)::BIGINT as events
            from act
            where {where}
            group by period_start
            order by period_start""",
        [*customer_params, *types_params, *params],
    )


def active_users(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("activity_date", f)
    if not f.by_customer:
        return fetch(
            cur,
            f"""select activity_date, dau, wau, mau, stickiness
                from mart_active_users where {where} order by activity_date""",
            params,
        )
    fx = formulas()
    customers, customer_params = customers_cte(f)
    types_sql, types_params = types_filter(f, "d.activity_type")
    wau, mau = fx("wau_days"), fx("mau_days")
    # A customer active on day a counts on days [a, a + window): joining every day to the
    # window's activity costs days × window × customers. Instead each active day covers up to
    # the customer's next active day (disjoint spans with the same union; the next day comes
    # from an ASOF join), a span adds +1 on its first day and -1 after its last, and each day
    # sums the changes up to it: the same exact distinct counts, from the same window lengths.
    return fetch(
        cur,
        f"""with {customers},
            days as (
                select activity_date from mart_active_users where {where}),
            active as (
                select distinct d.customer_id, d.activity_date
                from mart_customer_activity_daily d {segment_join(f)}
                where {types_sql}
                  and d.activity_date <= (select max(activity_date) from days)
                  and d.activity_date > (select min(activity_date) from days) - {mau}),
            spans as (
                select a.activity_date as first_day, n.activity_date as next_day
                from active a asof left join active n
                  on n.customer_id = a.customer_id and n.activity_date > a.activity_date),
            deltas as (
                select first_day as day, 1 as dau, 1 as wau, 1 as mau from spans
                union all
                select least(first_day + 1, coalesce(next_day, first_day + 1)), -1, 0, 0 from spans
                union all
                select least(first_day + {wau}, coalesce(next_day, first_day + {wau})), 0, -1, 0
                from spans
                union all
                select least(first_day + {mau}, coalesce(next_day, first_day + {mau})), 0, 0, -1
                from spans),
            changes as (
                select day, sum(dau) as dau, sum(wau) as wau, sum(mau) as mau
                from deltas group by day),
            counted as (
                select days.activity_date, coalesce(sum(c.dau), 0)::BIGINT as dau,
                       coalesce(sum(c.wau), 0)::BIGINT as wau,
                       coalesce(sum(c.mau), 0)::BIGINT as mau
                from days left join changes c on c.day <= days.activity_date
                group by days.activity_date)
            select activity_date, dau, wau, mau,
                   ({fx("stickiness", "dau", "mau")})::DOUBLE as stickiness
            from counted order by activity_date""",
        [*customer_params, *params, *types_params],
    )


def customer_lifecycle(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("period_start", f, floor=f.interval)
    status_sql = "list_contains(?::VARCHAR[], status)" if f.statuses else "true"
    return fetch(
        cur,
        f"""select period_start, status, customers, is_complete
            from mart_customer_lifecycle
            where "interval" = ? and {where} and {status_sql}
            order by period_start, status""",
        [f.interval, *params, *([f.statuses] if f.statuses else [])],
    )


def activity_heatmap(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    return fetch(
        cur,
        """select day_of_week, hour_of_day, events, active_customers
           from mart_activity_heatmap order by day_of_week, hour_of_day""",
    )


def demographics(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    if not f.segments:
        clauses, params = [], []
        if f.dimension:
            clauses.append("dimension = ?")
            params.append(f.dimension)
        if f.currency:
            clauses.append("currency = ?")
            params.append(f.currency)
        where = " and ".join(clauses) or "true"
        return fetch(
            cur,
            f"""select dimension, segment, currency, customers, share_of_customers,
                       active_customers_30d, bookings, net_revenue
                from mart_customer_demographics where {where}
                order by dimension, customers desc, segment, currency""",
            params,
        )
    # A cross-tab of the filtered customers: counts of mart_customer_segments rows (money is
    # per currency in the mart and not broken down by customer, so it stays NULL here).
    fx = formulas()
    customers, customer_params = customers_cte(f)
    dimension_sql = "s.dimension = ?" if f.dimension else "true"
    return fetch(
        cur,
        f"""with {customers},
            total as (select count(*) as all_customers from customers),
            counted as (
                select s.dimension, s.segment, count(*) as customers,
                       count(*) filter (where a.is_active_30d) as active_customers_30d
                from mart_customer_segments s
                {segment_join(f)}
                left join mart_customer_activity_summary a using (customer_id)
                where {dimension_sql}
                group by s.dimension, s.segment)
            select counted.dimension, counted.segment, null::VARCHAR as currency,
                   counted.customers,
                   ({fx("share_of_customers", "counted.customers", "total.all_customers")})::DOUBLE
                       as share_of_customers,
                   counted.active_customers_30d,
                   null::BIGINT as bookings, null::DECIMAL(18, 2) as net_revenue
            from counted cross join total
            order by counted.dimension, counted.customers desc, counted.segment""",
        [*customer_params, *([f.dimension] if f.dimension else [])],
    )


def service_usage(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("month", f, floor="month")
    extra = ""
    if f.service_categories:
        extra += " and list_contains(?::VARCHAR[], service_category)"
        params.append(f.service_categories)
    if f.currency:
        extra += " and currency = ?"
        params.append(f.currency)
    return fetch(
        cur,
        f"""select month, service_category, currency, bookings, completed, cancelled, no_show,
                   completion_rate, cancellation_rate, unique_customers, gross_revenue, refunds,
                   net_revenue, avg_booking_value, arpu
            from mart_service_usage where {where}{extra}
            order by month, service_category, currency""",
        params,
    )


def cohort_retention(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("cohort_month", f, floor="month")
    return fetch(
        cur,
        f"""select cohort_month, months_since_signup, cohort_size, retained_customers,
                   retention_rate, retained_on_or_after, rolling_retention_rate
            from mart_cohort_retention
            where {where} and months_since_signup <= ?
            order by cohort_month, months_since_signup""",
        [*params, f.max_months],
    )


def nday_retention(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("cohort_week", f, floor="week")
    return fetch(
        cur,
        f"""select cohort_week, day_n, cohort_size, retained_customers, retention_rate
            from mart_nday_retention where {where} order by cohort_week, day_n""",
        params,
    )


def retention_monthly(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("m.month", f, floor="month")
    if not f.segments:
        return fetch(
            cur,
            f"""select m.month, m.engaged_customers, m.retained_customers, m.retention_rate,
                       m.churn_rate
                from mart_retention_monthly m where {where} order by m.month""",
            params,
        )
    # The segment's rows of mart_customer_engaged_months (which defines engaged and retained),
    # counted per month of the mart.
    fx = formulas()
    customers, customer_params = customers_cte(f)
    return fetch(
        cur,
        f"""with {customers},
            engaged as (
                select e.month, e.customer_id, e.is_retained
                from mart_customer_engaged_months e {segment_join(f)}),
            counted as (
                select m.month, count(e.customer_id) as engaged_customers,
                       count(e.customer_id) filter (where e.is_retained) as retained_customers
                from mart_retention_monthly m
                left join engaged e on e.month = m.month
                where {where}
                group by m.month)
            select month, engaged_customers, retained_customers,
                   ({fx("retention_rate", "retained_customers", "engaged_customers")})::DOUBLE
                       as retention_rate,
                   ({fx("churn_rate", "retained_customers", "engaged_customers")})::DOUBLE
                       as churn_rate
            from counted order by month""",
        [*customer_params, *params],
    )


def repeat_customers(cur: duckdb.DuckDBPyConnection, f: Filters) -> Rows:
    where, params = date_range("month", f, floor="month")
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
