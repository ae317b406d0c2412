-- Customers' events and distinct active customers by ISO day of week and hour of day in the
-- business time zone, over the full history (all 7 x 24 cells, zero when empty).
with hourly as (
    select
        cast(isodow(hourly.activity_date) as integer) as day_of_week,
        hourly.hour_of_day,
        hourly.customer_id,
        hourly.events
    from {{ ref('int_customer_hourly_activity') }} as hourly
    inner join {{ ref('int_customers') }} as customers on hourly.customer_id = customers.customer_id
),

cells as (
    select
        cast(days.day_of_week as integer) as day_of_week,
        cast(hours.hour_of_day as integer) as hour_of_day
    from range(1, 8) as days (day_of_week)
    cross join range(0, 24) as hours (hour_of_day)
),

counted as (
    select
        hourly.day_of_week,
        hourly.hour_of_day,
        sum(hourly.events) as events,
        count(distinct hourly.customer_id) as active_customers
    from hourly
    group by hourly.day_of_week, hourly.hour_of_day
)

select
    cells.day_of_week,
    cells.hour_of_day,
    cast(coalesce(counted.events, 0) as bigint) as events,
    cast(coalesce(counted.active_customers, 0) as bigint) as active_customers
from cells
left join counted on cells.day_of_week = counted.day_of_week and cells.hour_of_day = counted.hour_of_day
