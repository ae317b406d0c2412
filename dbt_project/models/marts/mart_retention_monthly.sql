-- The original PetPro dashboard retention per complete month M whose next month is complete
-- too: the counts of mart_customer_engaged_months, which defines engaged and retained.
with counted as (
    select
        months.month,
        count(engaged.customer_id) as engaged_customers,
        count(engaged.customer_id) filter (where engaged.is_retained) as retained_customers
    from {{ ref('int_retention_months') }} as months
    left join {{ ref('mart_customer_engaged_months') }} as engaged on months.month = engaged.month
    group by months.month
)

select
    cast(counted.month as date) as month,
    cast(counted.engaged_customers as bigint) as engaged_customers,
    cast(counted.retained_customers as bigint) as retained_customers,
    cast({{ retention_rate('counted.retained_customers', 'counted.engaged_customers') }} as double) as retention_rate,
    cast({{ churn_rate('counted.retained_customers', 'counted.engaged_customers') }} as double) as churn_rate
from counted
