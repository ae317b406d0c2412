-- Cumulative customers never decrease from one period to the next.
{%- set interval = adapter.quote("interval") %}
with ordered as (
    select
        growth.{{ interval }},
        growth.period_start,
        growth.cumulative_customers,
        lag(growth.cumulative_customers) over (
            partition by growth.{{ interval }} order by growth.period_start
        ) as previous_cumulative
    from {{ ref('mart_customer_growth') }} as growth
)

select ordered.*
from ordered
where ordered.cumulative_customers < ordered.previous_cumulative
