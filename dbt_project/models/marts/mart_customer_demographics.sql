-- Customers by segment of each demographic dimension (mart_customer_segments), with 30-day
-- activity, and bookings and net revenue per currency (never summed across currencies).
with customers as (
    select * from {{ ref('int_customers') }}
),

segments as (
    select * from {{ ref('mart_customer_segments') }}
),

total as (
    select count(*) as all_customers from customers
),

active_30d as (
    select summary.customer_id
    from {{ ref('mart_customer_activity_summary') }} as summary
    where summary.is_active_30d
),

customer_money as (
    select
        coalesce(bookings.customer_id, payments.customer_id) as customer_id,
        coalesce(bookings.currency, payments.currency) as currency,
        coalesce(bookings.bookings, 0) as bookings,
        coalesce(payments.net_revenue, 0) as net_revenue
    from (
        select
            bookings.customer_id,
            bookings.currency,
            count(*) as bookings
        from {{ ref('int_bookings_enriched') }} as bookings
        group by bookings.customer_id, bookings.currency
    ) as bookings
    full outer join (
        select
            payments.customer_id,
            payments.currency,
            sum(payments.net_amount) as net_revenue
        from {{ ref('int_payments_enriched') }} as payments
        group by payments.customer_id, payments.currency
    ) as payments
        on bookings.customer_id = payments.customer_id and bookings.currency is not distinct from payments.currency
),

segment_counts as (
    select
        segments.dimension,
        segments.segment,
        count(distinct segments.customer_id) as customers,
        count(distinct active_30d.customer_id) as active_customers_30d
    from segments
    left join active_30d on segments.customer_id = active_30d.customer_id
    group by segments.dimension, segments.segment
),

segment_money as (
    select
        segments.dimension,
        segments.segment,
        customer_money.currency,
        sum(customer_money.bookings) as bookings,
        sum(customer_money.net_revenue) as net_revenue
    from segments
    inner join customer_money on segments.customer_id = customer_money.customer_id
    group by segments.dimension, segments.segment, customer_money.currency
)

select
    cast(segment_counts.dimension as string) as dimension,
    cast(segment_counts.segment as string) as segment,
    cast(segment_money.currency as string) as currency,
    cast(segment_counts.customers as bigint) as customers,
    cast({{ share_of_customers('segment_counts.customers', 'total.all_customers') }} as double) as share_of_customers,
    cast(segment_counts.active_customers_30d as bigint) as active_customers_30d,
    cast(coalesce(segment_money.bookings, 0) as bigint) as bookings,
    cast(segment_money.net_revenue as decimal(18, 2)) as net_revenue
from segment_counts
cross join total
left join segment_money
    on segment_counts.dimension = segment_money.dimension and segment_counts.segment = segment_money.segment
