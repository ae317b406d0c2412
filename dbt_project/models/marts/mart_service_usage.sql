-- Bookings (by creation month, current status) and revenue (by payment month) per service
-- category and currency; money is never summed across currencies.
{%- set interval = adapter.quote("interval") %}
with bookings as (
    -- Additive counts from the daily model (the definition mart_metric_daily shares).
    select
        {{ month_start('daily.created_date') }} as month,
        daily.service_category,
        daily.currency,
        sum(daily.bookings) as bookings,
        sum(daily.completed) as completed,
        sum(daily.cancelled) as cancelled,
        sum(daily.no_show) as no_show
    from {{ ref('int_bookings_daily') }} as daily
    group by {{ month_start('daily.created_date') }}, daily.service_category, daily.currency
),

booking_customers as (
    -- Distinct counts do not add up over days: counted on the booking rows.
    select
        bookings.created_month as month,
        bookings.service_category,
        bookings.currency,
        count(distinct bookings.customer_id) as unique_customers
    from {{ ref('int_bookings_enriched') }} as bookings
    group by bookings.created_month, bookings.service_category, bookings.currency
),

revenue as (
    select
        {{ month_start('daily.payment_date') }} as month,
        daily.service_category,
        daily.currency,
        sum(daily.gross_revenue) as gross_revenue,
        sum(daily.refunds) as refunds
    from {{ ref('int_payments_daily') }} as daily
    group by {{ month_start('daily.payment_date') }}, daily.service_category, daily.currency
),

paid_bookings as (
    select
        payments.payment_month as month,
        payments.service_category,
        payments.currency,
        count(distinct payments.booking_id) filter (where payments.is_collected) as paid_bookings
    from {{ ref('int_payments_enriched') }} as payments
    group by payments.payment_month, payments.service_category, payments.currency
),

active as (
    select
        periods.period_start as month,
        count(*) as active_customers
    from {{ ref('int_customer_active_periods') }} as periods
    where periods.{{ interval }} = 'month'
    group by periods.period_start
),

combined as (
    select
        coalesce(bookings.month, revenue.month) as month,
        coalesce(bookings.service_category, revenue.service_category) as service_category,
        coalesce(bookings.currency, revenue.currency) as currency,
        coalesce(bookings.bookings, 0) as bookings,
        coalesce(bookings.completed, 0) as completed,
        coalesce(bookings.cancelled, 0) as cancelled,
        coalesce(bookings.no_show, 0) as no_show,
        coalesce(booking_customers.unique_customers, 0) as unique_customers,
        coalesce(revenue.gross_revenue, 0) as gross_revenue,
        coalesce(revenue.refunds, 0) as refunds,
        coalesce(paid_bookings.paid_bookings, 0) as paid_bookings
    from bookings
    full outer join revenue
        on
            bookings.month = revenue.month
            and bookings.service_category = revenue.service_category
            and bookings.currency is not distinct from revenue.currency
    left join booking_customers
        on
            bookings.month = booking_customers.month
            and bookings.service_category = booking_customers.service_category
            and bookings.currency is not distinct from booking_customers.currency
    left join paid_bookings
        on
            revenue.month = paid_bookings.month
            and revenue.service_category = paid_bookings.service_category
            and revenue.currency is not distinct from paid_bookings.currency
)

select
    cast(combined.month as date) as month,
    cast(combined.service_category as string) as service_category,
    cast(combined.currency as string) as currency,
    cast(combined.bookings as bigint) as bookings,
    cast(combined.completed as bigint) as completed,
    cast(combined.cancelled as bigint) as cancelled,
    cast(combined.no_show as bigint) as no_show,
    cast(combined.completed / nullif(combined.bookings, 0) as double) as completion_rate,
    cast(combined.cancelled / nullif(combined.bookings, 0) as double) as cancellation_rate,
    cast(combined.unique_customers as bigint) as unique_customers,
    cast(combined.gross_revenue as decimal(18, 2)) as gross_revenue,
    cast(combined.refunds as decimal(18, 2)) as refunds,
    cast(combined.gross_revenue - combined.refunds as decimal(18, 2)) as net_revenue,
    {{ money_per('combined.gross_revenue', 'combined.paid_bookings') }} as avg_booking_value,
    {{ money_per('combined.gross_revenue - combined.refunds', 'active.active_customers') }} as arpu
from combined
left join active on combined.month = active.month
