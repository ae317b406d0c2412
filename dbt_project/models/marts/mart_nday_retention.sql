{#-
    Weekly signup cohorts, Amplitude-style rolling days: day N retained = any activity in the
    24-hour window [signup + N*24h, signup + (N+1)*24h). A customer counts for day N only once
    that window has fully elapsed before the high-water mark. Arithmetic on epoch
    microseconds keeps the windows 24 hours long across DST changes. Which customers were
    active on which day N comes from the incremental fact int_customer_signup_day_activity
    (built from the night's window of activities only), not from a scan of every activity.
-#}
{%- set day_ns = nday_retention_days() %}
{%- set day_us = nday_day_microseconds() %}

with customers as (
    select
        customers.customer_id,
        customers.cohort_week,
        {{ epoch_microseconds('customers.signup_at') }} as signup_us
    from {{ ref('int_customers') }} as customers
),

day_ns as (
    select cast(day_ns.day_n as integer) as day_n
    from (values ({{ day_ns | join('), (') }})) as day_ns (day_n)
),

eligible as (
    select
        customers.customer_id,
        customers.cohort_week,
        customers.signup_us,
        day_ns.day_n
    from customers
    cross join day_ns
    cross join {{ ref('int_high_water_mark') }} as hwm
    where customers.signup_us + (day_ns.day_n + 1) * {{ day_us }} <= {{ epoch_microseconds('hwm.high_water_mark_at') }}
),

active_days as (
    select distinct
        signup_days.customer_id,
        signup_days.day_n
    from {{ ref('int_customer_signup_day_activity') }} as signup_days
)

select
    cast(eligible.cohort_week as date) as cohort_week,
    cast(eligible.day_n as integer) as day_n,
    cast(count(*) as bigint) as cohort_size,
    cast(count(active_days.customer_id) as bigint) as retained_customers,
    cast(count(active_days.customer_id) / count(*) as double) as retention_rate
from eligible
left join active_days on eligible.customer_id = active_days.customer_id and eligible.day_n = active_days.day_n
group by eligible.cohort_week, eligible.day_n
