-- One row per customer: all-time activities, first and last active day, and whether the
-- customer was active in the 30 days ending at the high-water mark (docs/metrics.md
-- active_customers_30d, counted by mart_customer_demographics and by the API).
with days as (
    select
        active_days.customer_id,
        sum(active_days.events) as events,
        min(active_days.activity_date) as first_activity_date,
        max(active_days.activity_date) as last_activity_date,
        bool_or(
            active_days.activity_date between hwm.high_water_date - 29 and hwm.high_water_date
        ) as is_active_30d
    from {{ ref('int_customer_active_days') }} as active_days
    cross join {{ ref('int_high_water_mark') }} as hwm
    group by active_days.customer_id
)

select
    cast(customers.customer_id as string) as customer_id,
    cast(coalesce(days.events, 0) as bigint) as events,
    cast(days.first_activity_date as date) as first_activity_date,
    cast(days.last_activity_date as date) as last_activity_date,
    cast(coalesce(days.is_active_30d, false) as boolean) as is_active_30d
from {{ ref('int_customers') }} as customers
left join days on customers.customer_id = days.customer_id
