-- New, cumulative and active customers per day, ISO week and month (business time zone).
{%- set interval = adapter.quote("interval") %}
with new_customers as (
    select
        'day' as {{ interval }},
        customers.signup_date as period_start,
        count(*) as new_customers
    from {{ ref('int_customers') }} as customers
    group by customers.signup_date
    union all
    select
        'week' as {{ interval }},
        customers.cohort_week as period_start,
        count(*) as new_customers
    from {{ ref('int_customers') }} as customers
    group by customers.cohort_week
    union all
    select
        'month' as {{ interval }},
        customers.cohort_month as period_start,
        count(*) as new_customers
    from {{ ref('int_customers') }} as customers
    group by customers.cohort_month
),

active as (
    select
        periods.{{ interval }},
        periods.period_start,
        count(*) as active_customers
    from {{ ref('int_customer_active_periods') }} as periods
    group by periods.{{ interval }}, periods.period_start
),

joined as (
    select
        spine.{{ interval }},
        spine.period_start,
        spine.is_complete,
        coalesce(new_customers.new_customers, 0) as new_customers,
        coalesce(active.active_customers, 0) as active_customers
    from {{ ref('int_period_spine') }} as spine
    left join new_customers
        on spine.{{ interval }} = new_customers.{{ interval }} and spine.period_start = new_customers.period_start
    left join active
        on spine.{{ interval }} = active.{{ interval }} and spine.period_start = active.period_start
),

with_previous as (
    select
        joined.*,
        {{ previous_period('joined.new_customers', 'joined.period_start', 'joined.' ~ interval) }} as previous_new,
        {{ cumulative('joined.new_customers', 'joined.period_start', 'joined.' ~ interval) }} as cumulative_customers
    from joined
)

select
    cast(with_previous.{{ interval }} as string) as {{ interval }},
    cast(with_previous.period_start as date) as period_start,
    cast(with_previous.new_customers as bigint) as new_customers,
    cast(with_previous.cumulative_customers as bigint) as cumulative_customers,
    cast({{ growth_rate('with_previous.new_customers', 'with_previous.previous_new') }} as double) as growth_rate,
    cast(with_previous.active_customers as bigint) as active_customers,
    cast(with_previous.is_complete as boolean) as is_complete
from with_previous
