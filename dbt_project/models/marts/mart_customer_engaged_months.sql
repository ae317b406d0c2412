-- Customer x month: every customer engaged in a month M of int_retention_months, and whether
-- they were engaged again in M + 1. The one definition of month-to-month retention:
-- mart_retention_monthly counts these rows, and the API counts them for a segment.
{%- set interval = adapter.quote("interval") %}
with engaged as (
    select
        periods.period_start as month,
        periods.customer_id
    from {{ ref('int_customer_active_periods') }} as periods
    inner join {{ ref('int_customers') }} as customers on periods.customer_id = customers.customer_id
    where periods.{{ interval }} = 'month' and periods.is_engaged
)

select
    cast(current.customer_id as string) as customer_id,
    cast(months.month as date) as month,
    cast(next.customer_id is not null as boolean) as is_retained
from {{ ref('int_retention_months') }} as months
inner join engaged as current on months.month = current.month
left join engaged as next on months.next_month = next.month and current.customer_id = next.customer_id
