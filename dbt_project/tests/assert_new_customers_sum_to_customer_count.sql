-- For each interval, new customers summed over all periods = customers who signed up by the
-- high-water date, and the last cumulative figure is that same count.
{%- set interval = adapter.quote("interval") %}
with expected as (
    select count(*) as customers
    from {{ ref('int_customers') }} as customers
    cross join {{ ref('int_high_water_mark') }} as hwm
    where customers.signup_date <= hwm.high_water_date
),

per_interval as (
    select
        growth.{{ interval }},
        sum(growth.new_customers) as new_customers,
        max(growth.cumulative_customers) as cumulative_customers
    from {{ ref('mart_customer_growth') }} as growth
    group by growth.{{ interval }}
)

select
    per_interval.*,
    expected.customers
from per_interval
cross join expected
where
    per_interval.new_customers != expected.customers
    or per_interval.cumulative_customers != expected.customers
