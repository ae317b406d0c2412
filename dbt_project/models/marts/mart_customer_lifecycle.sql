-- PostHog lifecycle per ISO week and month: new, returning, resurrecting and dormant customers.
{%- set interval = adapter.quote("interval") %}
with spine as (
    select
        periods.{{ interval }},
        periods.period_start,
        periods.is_complete,
        lag(periods.period_start) over (partition by periods.{{ interval }} order by periods.period_start)
            as previous_start
    from {{ ref('int_period_spine') }} as periods
    where periods.{{ interval }} in ('week', 'month')
),

active as (
    select
        periods.{{ interval }},
        periods.period_start,
        periods.customer_id
    from {{ ref('int_customer_active_periods') }} as periods
    where periods.{{ interval }} in ('week', 'month')
),

customers as (
    select
        customers.customer_id,
        customers.signup_date,
        customers.cohort_week,
        customers.cohort_month
    from {{ ref('int_customers') }} as customers
),

statuses as (
    select
        spine.{{ interval }},
        spine.period_start,
        case
            when
                (spine.{{ interval }} = 'week' and customers.cohort_week = spine.period_start)
                or (spine.{{ interval }} = 'month' and customers.cohort_month = spine.period_start)
                then 'new'
            when previous.customer_id is not null then 'returning'
            when customers.signup_date < spine.period_start then 'resurrecting'
        end as status,
        current.customer_id
    from spine
    inner join active as current
        on spine.{{ interval }} = current.{{ interval }} and spine.period_start = current.period_start
    inner join customers on current.customer_id = customers.customer_id
    left join active as previous
        on
            spine.{{ interval }} = previous.{{ interval }}
            and spine.previous_start = previous.period_start
            and current.customer_id = previous.customer_id
    union all
    select
        spine.{{ interval }},
        spine.period_start,
        'dormant' as status,
        previous.customer_id
    from spine
    inner join active as previous
        on spine.{{ interval }} = previous.{{ interval }} and spine.previous_start = previous.period_start
    inner join customers on previous.customer_id = customers.customer_id
    left join active as current
        on
            spine.{{ interval }} = current.{{ interval }}
            and spine.period_start = current.period_start
            and previous.customer_id = current.customer_id
    where current.customer_id is null
)

select
    cast(statuses.{{ interval }} as string) as {{ interval }},
    cast(statuses.period_start as date) as period_start,
    cast(statuses.status as string) as status,
    cast(count(*) as bigint) as customers,
    cast(any_value(spine.is_complete) as boolean) as is_complete
from statuses
inner join spine on statuses.{{ interval }} = spine.{{ interval }} and statuses.period_start = spine.period_start
where statuses.status is not null
group by statuses.{{ interval }}, statuses.period_start, statuses.status
