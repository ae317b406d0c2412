-- Customer-level daily activity (UUIDs only) so the API can count distinct customers exactly
-- under any filter.
select
    cast(daily.customer_id as varchar) as customer_id,
    cast(daily.activity_date as date) as activity_date,
    cast(daily.activity_type as varchar) as activity_type,
    cast(daily.events as bigint) as events
from {{ ref('int_customer_daily_activity') }} as daily
inner join {{ ref('int_customers') }} as customers on daily.customer_id = customers.customer_id
