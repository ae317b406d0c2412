{#-
    Events and distinct active customers per activity type, per day, ISO week and month.
    Distinct customers are counted by grouping to customer x period x type first (cheaper in
    DuckDB than count(distinct) per group).
    Incremental: the day, week and month periods overlapping the activity-date window are
    deleted (pre-hook) and recomputed whole from int_customer_daily_activity, which holds
    every day; everything is rebuilt when a customer active outside the window was erased
    (see aggregate_window). is_complete moves with the high-water mark, so the post-hook
    recomputes it on every row (a few thousand).
-#}
{%- set interval = adapter.quote("interval") %}
{{
    config(
        materialized='incremental',
        incremental_strategy=in_place_strategy('append'),
        on_schema_change='fail',
        pre_hook=["{{ delete_aggregate_window(customer_activity_window()) }}"],
        post_hook=["{{ refresh_is_complete() }}"],
        tags=['incremental'],
    )
}}

{%- set window = customer_activity_window() %}

with daily as (
    select
        daily.customer_id,
        daily.activity_date,
        daily.activity_type,
        daily.events
    from {{ ref('int_customer_daily_activity') }} as daily
    inner join {{ ref('int_customers') }} as customers on daily.customer_id = customers.customer_id
    where true
        {{- period_days_filter(window, 'daily.activity_date') }}
),

per_customer as (
    -- The daily fact is already one row per customer x date x type.
    select
        'day' as {{ interval }},
        daily.activity_date as period_start,
        daily.activity_type,
        daily.customer_id,
        daily.events
    from daily
    union all
    select
        'week' as {{ interval }},
        {{ week_start('daily.activity_date') }} as period_start,
        daily.activity_type,
        daily.customer_id,
        sum(daily.events) as events
    from daily
    group by 2, 3, 4
    union all
    select
        'month' as {{ interval }},
        {{ month_start('daily.activity_date') }} as period_start,
        daily.activity_type,
        daily.customer_id,
        sum(daily.events) as events
    from daily
    group by 2, 3, 4
),

bucketed as (
    select
        per_customer.{{ interval }},
        per_customer.period_start,
        per_customer.activity_type,
        sum(per_customer.events) as events,
        count(*) as active_customers
    from per_customer
    {%- if window.start is not none or window.end is not none %}
        where {{ period_window_predicate(window, 'per_customer.' ~ interval, 'per_customer.period_start') }}
    {%- endif %}
    group by 1, 2, 3
)

select
    cast(bucketed.{{ interval }} as string) as {{ interval }},
    cast(bucketed.period_start as date) as period_start,
    cast(bucketed.activity_type as string) as activity_type,
    cast(bucketed.events as bigint) as events,
    cast(bucketed.active_customers as bigint) as active_customers,
    cast(
        {{ period_is_complete('bucketed.' ~ interval, 'bucketed.period_start', 'hwm.high_water_mark_local') }}
        as boolean
    ) as is_complete
from bucketed
cross join {{ ref('int_high_water_mark') }} as hwm
