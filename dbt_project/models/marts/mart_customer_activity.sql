-- Events and distinct active customers per activity type, per day, ISO week and month.
-- Distinct customers are counted by grouping to customer x period x type first (cheaper in
-- DuckDB than count(distinct) per group).
with daily as (
    select
        daily.customer_id,
        daily.activity_date,
        daily.activity_type,
        daily.events
    from {{ ref('int_customer_daily_activity') }} as daily
    inner join {{ ref('int_customers') }} as customers on daily.customer_id = customers.customer_id
),

per_customer as (
    -- The daily fact is already one row per customer x date x type.
    select
        'day' as "interval",
        daily.activity_date as period_start,
        daily.activity_type,
        daily.customer_id,
        daily.events
    from daily
    union all
    select
        'week' as "interval",
        {{ week_start('daily.activity_date') }} as period_start,
        daily.activity_type,
        daily.customer_id,
        sum(daily.events) as events
    from daily
    group by 2, 3, 4
    union all
    select
        'month' as "interval",
        {{ month_start('daily.activity_date') }} as period_start,
        daily.activity_type,
        daily.customer_id,
        sum(daily.events) as events
    from daily
    group by 2, 3, 4
),

bucketed as (
    select
        per_customer."interval",
        per_customer.period_start,
        per_customer.activity_type,
        sum(per_customer.events) as events,
        count(*) as active_customers
    from per_customer
    group by 1, 2, 3
)

select
    cast(bucketed."interval" as varchar) as "interval",
    cast(bucketed.period_start as date) as period_start,
    cast(bucketed.activity_type as varchar) as activity_type,
    cast(bucketed.events as bigint) as events,
    cast(bucketed.active_customers as bigint) as active_customers,
    cast(spine.is_complete as boolean) as is_complete
from bucketed
inner join {{ ref('int_period_spine') }} as spine
    on bucketed."interval" = spine."interval" and bucketed.period_start = spine.period_start
