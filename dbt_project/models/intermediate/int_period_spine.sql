-- Every day, ISO week and month from the first signup or activity to the high-water mark, in
-- the business time zone. A period is complete when it ended at or before the high-water mark.
{%- set interval = adapter.quote("interval") %}
with bounds as (
    select
        least(
            (select min(customers.signup_date) from {{ ref('int_customers') }} as customers),
            (select min(days.activity_date) from {{ ref('int_customer_active_days') }} as days)
        ) as first_date,
        hwm.high_water_date as last_date,
        hwm.high_water_mark_local
    from {{ ref('int_high_water_mark') }} as hwm
),

periods as (
    select
        'day' as {{ interval }},
        cast(series.period_start as date) as period_start,
        cast(series.period_start + interval 1 day as date) as period_end
    from (
        select {{ date_series('bounds.first_date', 'bounds.last_date', 'interval 1 day') }} as period_start
        from bounds
    ) as series
    union all
    select
        'week' as {{ interval }},
        cast(series.period_start as date) as period_start,
        cast(series.period_start + interval 7 day as date) as period_end
    from (
        select
            {{ date_series(week_start('bounds.first_date'), 'bounds.last_date', 'interval 7 day') }} as period_start
        from bounds
    ) as series
    union all
    select
        'month' as {{ interval }},
        cast(series.period_start as date) as period_start,
        cast(series.period_start + interval 1 month as date) as period_end
    from (
        select
            {{ date_series(month_start('bounds.first_date'), 'bounds.last_date', 'interval 1 month') }} as period_start
        from bounds
    ) as series
)

select
    periods.{{ interval }},
    periods.period_start,
    periods.period_end,
    cast(periods.period_end as timestamp) <= bounds.high_water_mark_local as is_complete
from periods
cross join bounds
