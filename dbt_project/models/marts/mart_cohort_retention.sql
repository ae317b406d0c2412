-- Monthly signup cohorts: share engaged in month k after signup ("on") and in month k or any
-- later complete month ("on or after"). Complete months only.
{%- set interval = adapter.quote("interval") %}
with complete_months as (
    select periods.period_start as month
    from {{ ref('int_period_spine') }} as periods
    where periods.{{ interval }} = 'month' and periods.is_complete
),

cohorts as (
    select
        customers.cohort_month,
        count(*) as cohort_size
    from {{ ref('int_customers') }} as customers
    inner join complete_months on customers.cohort_month = complete_months.month
    group by customers.cohort_month
),

engaged as (
    select
        customers.cohort_month,
        periods.customer_id,
        periods.period_start as month
    from {{ ref('int_customer_active_periods') }} as periods
    inner join {{ ref('int_customers') }} as customers on periods.customer_id = customers.customer_id
    inner join complete_months on periods.period_start = complete_months.month
    where periods.{{ interval }} = 'month' and periods.is_engaged and periods.period_start >= customers.cohort_month
),

last_engaged as (
    select
        engaged.cohort_month,
        engaged.customer_id,
        max(engaged.month) as last_month
    from engaged
    group by engaged.cohort_month, engaged.customer_id
),

grid as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        complete_months.month
    from cohorts
    inner join complete_months on cohorts.cohort_month <= complete_months.month
),

on_month as (
    select
        engaged.cohort_month,
        engaged.month,
        count(*) as retained
    from engaged
    group by engaged.cohort_month, engaged.month
),

on_or_after as (
    select
        grid.cohort_month,
        grid.month,
        count(*) as retained
    from grid
    inner join last_engaged
        on grid.cohort_month = last_engaged.cohort_month and grid.month <= last_engaged.last_month
    group by grid.cohort_month, grid.month
),

counted as (
    select
        grid.cohort_month,
        grid.month,
        grid.cohort_size,
        coalesce(on_month.retained, 0) as retained_customers,
        coalesce(on_or_after.retained, 0) as retained_on_or_after
    from grid
    left join on_month on grid.cohort_month = on_month.cohort_month and grid.month = on_month.month
    left join on_or_after on grid.cohort_month = on_or_after.cohort_month and grid.month = on_or_after.month
)

select
    cast(counted.cohort_month as date) as cohort_month,
    cast(
        (date_part('year', counted.month) - date_part('year', counted.cohort_month)) * 12
        + date_part('month', counted.month) - date_part('month', counted.cohort_month)
        as integer
    ) as months_since_signup,
    cast(counted.cohort_size as bigint) as cohort_size,
    cast(counted.retained_customers as bigint) as retained_customers,
    cast(counted.retained_customers / counted.cohort_size as double) as retention_rate,
    cast(counted.retained_on_or_after as bigint) as retained_on_or_after,
    cast(counted.retained_on_or_after / counted.cohort_size as double) as rolling_retention_rate
from counted
