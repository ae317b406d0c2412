{#-
    Customer x interval x period in which the customer was active (day, ISO week, month);
    is_engaged when at least one engagement-type activity happened in the period.
    Incremental: the periods overlapping the activity-date window are deleted (pre-hook) and
    recomputed whole from int_customer_active_days, which holds every day.
-#}
{%- set interval = adapter.quote("interval") %}
{{
    config(
        materialized='incremental',
        incremental_strategy=in_place_strategy('append'),
        on_schema_change='fail',
        pre_hook=["{{ delete_period_window() }}"],
        post_hook=["{{ delete_erased_customers('customer_id') }}"],
        tags=['incremental'],
    )
}}

{%- set window = incremental_window('period_start') %}

with days as (
    select
        active_days.customer_id,
        active_days.activity_date,
        active_days.is_engaged
    from {{ ref('int_customer_active_days') }} as active_days
    inner join {{ ref('int_customers') }} as customers on active_days.customer_id = customers.customer_id
    where true
        -- Every day of the weeks and months overlapping the window (a week can start in the
        -- previous month and end in the next one).
        {{- period_days_filter(window, 'active_days.activity_date') }}
),

periods as (
    select
        'day' as {{ interval }},
        days.activity_date as period_start,
        days.customer_id,
        days.is_engaged
    from days
    union all
    select
        'week' as {{ interval }},
        {{ week_start('days.activity_date') }} as period_start,
        days.customer_id,
        bool_or(days.is_engaged) as is_engaged
    from days
    group by 2, 3
    union all
    select
        'month' as {{ interval }},
        {{ month_start('days.activity_date') }} as period_start,
        days.customer_id,
        bool_or(days.is_engaged) as is_engaged
    from days
    group by 2, 3
)

select
    periods.{{ interval }},
    periods.period_start,
    periods.customer_id,
    periods.is_engaged
from periods
{%- if window.start is not none or window.end is not none %}
    where {{ period_window_predicate(window, 'periods.' ~ interval, 'periods.period_start') }}
{%- endif %}
