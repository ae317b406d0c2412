-- Per month: customers with at least one booking created up to the end of the month, and
-- those among them with two or more.
{%- set interval = adapter.quote("interval") %}
with ranked as (
    select
        bookings.customer_id,
        bookings.created_date,
        row_number() over (
            partition by bookings.customer_id order by bookings.created_at, bookings.booking_id
        ) as booking_number
    from {{ ref('int_bookings_enriched') }} as bookings
),

milestones as (
    select
        ranked.customer_id,
        min(ranked.created_date) filter (where ranked.booking_number = 1) as first_booking_date,
        min(ranked.created_date) filter (where ranked.booking_number = 2) as second_booking_date
    from ranked
    where ranked.booking_number <= 2
    group by ranked.customer_id
),

counted as (
    select
        periods.period_start as month,
        count(*) filter (where milestones.first_booking_date < periods.period_end) as booking_customers,
        count(*) filter (where milestones.second_booking_date < periods.period_end) as repeat_customers
    from {{ ref('int_period_spine') }} as periods
    cross join milestones
    where periods.{{ interval }} = 'month'
    group by periods.period_start
)

select
    cast(counted.month as date) as month,
    cast(counted.booking_customers as bigint) as booking_customers,
    cast(counted.repeat_customers as bigint) as repeat_customers,
    cast(counted.repeat_customers / nullif(counted.booking_customers, 0) as double) as repeat_rate
from counted
