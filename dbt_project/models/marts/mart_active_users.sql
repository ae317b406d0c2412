{#-
    DAU, WAU (7 days ending on the date) and MAU (30 days) of customers for every date.
    Rolling distinct counts without a range join: an active day d of a customer whose next
    active day is n covers the dates [d, least(n, d + window)) for that customer, and these
    spans never overlap, so a running sum of +1 at d and -1 at the span's end counts the
    distinct customers covered on each date (one window function, one pass).
-#}
{%- set interval = adapter.quote("interval") %}

with days as (
    select
        active_days.customer_id,
        active_days.activity_date,
        lead(active_days.activity_date) over (
            partition by active_days.customer_id order by active_days.activity_date
        ) as next_date
    from {{ ref('int_customer_active_days') }} as active_days
),

spine as (
    select periods.period_start as activity_date
    from {{ ref('int_period_spine') }} as periods
    where periods.{{ interval }} = 'day'
),

edges as (
    select
        days.activity_date as edge_date,
        1 as dau,
        1 as wau,
        1 as mau
    from days
    union all
    select
        least(days.next_date, days.activity_date + {{ wau_days() }}) as edge_date,
        0 as dau,
        -1 as wau,
        0 as mau
    from days
    union all
    select
        least(days.next_date, days.activity_date + {{ mau_days() }}) as edge_date,
        0 as dau,
        0 as wau,
        -1 as mau
    from days
),

deltas as (
    select
        edges.edge_date,
        sum(edges.dau) as dau,
        sum(edges.wau) as wau,
        sum(edges.mau) as mau
    from edges
    group by edges.edge_date
),

counted as (
    select
        spine.activity_date,
        coalesce(deltas.dau, 0) as dau,
        sum(coalesce(deltas.wau, 0)) over (
            order by spine.activity_date rows between unbounded preceding and current row
        ) as wau,
        sum(coalesce(deltas.mau, 0)) over (
            order by spine.activity_date rows between unbounded preceding and current row
        ) as mau
    from spine
    left join deltas on spine.activity_date = deltas.edge_date
)

select
    cast(counted.activity_date as date) as activity_date,
    cast(counted.dau as bigint) as dau,
    cast(counted.wau as bigint) as wau,
    cast(counted.mau as bigint) as mau,
    cast({{ stickiness('counted.dau', 'counted.mau') }} as double) as stickiness
from counted
