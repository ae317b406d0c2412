-- new + returning + resurrecting = active customers of every week and month.
{%- set interval = adapter.quote("interval") %}
with lifecycle as (
    select
        statuses.{{ interval }},
        statuses.period_start,
        sum(statuses.customers) filter (where statuses.status != 'dormant') as active_by_status
    from {{ ref('mart_customer_lifecycle') }} as statuses
    group by statuses.{{ interval }}, statuses.period_start
)

select
    growth.{{ interval }},
    growth.period_start,
    growth.active_customers,
    lifecycle.active_by_status
from {{ ref('mart_customer_growth') }} as growth
left join lifecycle
    on growth.{{ interval }} = lifecycle.{{ interval }} and growth.period_start = lifecycle.period_start
where
    growth.{{ interval }} in ('week', 'month')
    and growth.active_customers != coalesce(lifecycle.active_by_status, 0)
