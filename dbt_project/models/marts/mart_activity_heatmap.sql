-- Customers' events and distinct active customers by ISO day of week and hour of day in the
-- business time zone, over the full history (all 7 x 24 cells, zero when empty). Both inputs
-- hold current customers only (their post-hooks delete erased ones); distinct customers come
-- from the incremental table of customer x cell pairs, so no full-history distinct count.
with events as (
    select
        cast({{ iso_day_of_week('hourly.activity_date') }} as integer) as day_of_week,
        cast(hourly.hour_of_day as integer) as hour_of_day,
        sum(hourly.events) as events
    from {{ ref('int_customer_hourly_activity') }} as hourly
    group by 1, 2
),

customers as (
    select
        cells.day_of_week,
        cells.hour_of_day,
        count(*) as active_customers
    from {{ ref('int_customer_heatmap_cells') }} as cells
    group by 1, 2
),

cells as (
    select
        cast(days.day_of_week as integer) as day_of_week,
        cast(hours.hour_of_day as integer) as hour_of_day
    from range(1, 8) as days (day_of_week)
    cross join range(0, 24) as hours (hour_of_day)
)

select
    cells.day_of_week,
    cells.hour_of_day,
    cast(coalesce(events.events, 0) as bigint) as events,
    cast(coalesce(customers.active_customers, 0) as bigint) as active_customers
from cells
left join events on cells.day_of_week = events.day_of_week and cells.hour_of_day = events.hour_of_day
left join customers on cells.day_of_week = customers.day_of_week and cells.hour_of_day = customers.hour_of_day
