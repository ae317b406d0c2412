-- The original PetPro dashboard retention: customers engaged in complete month M who are
-- engaged again in month M+1 (which must be complete too).
{%- set interval = adapter.quote("interval") %}
with months as (
    select
        periods.period_start as month,
        periods.period_end as next_month
    from {{ ref('int_period_spine') }} as periods
    inner join {{ ref('int_period_spine') }} as next_periods
        on next_periods.{{ interval }} = 'month' and periods.period_end = next_periods.period_start
    where periods.{{ interval }} = 'month' and periods.is_complete and next_periods.is_complete
),

engaged as (
    select
        periods.period_start as month,
        periods.customer_id
    from {{ ref('int_customer_active_periods') }} as periods
    inner join {{ ref('int_customers') }} as customers on periods.customer_id = customers.customer_id
    where periods.{{ interval }} = 'month' and periods.is_engaged
),

counted as (
    select
        months.month,
        count(current.customer_id) as engaged_customers,
        count(next.customer_id) as retained_customers
    from months
    left join engaged as current on months.month = current.month
    left join engaged as next on months.next_month = next.month and current.customer_id = next.customer_id
    group by months.month
)

select
    cast(counted.month as date) as month,
    cast(counted.engaged_customers as bigint) as engaged_customers,
    cast(counted.retained_customers as bigint) as retained_customers,
    cast(counted.retained_customers / nullif(counted.engaged_customers, 0) as double) as retention_rate,
    cast(1 - counted.retained_customers / nullif(counted.engaged_customers, 0) as double) as churn_rate
from counted
