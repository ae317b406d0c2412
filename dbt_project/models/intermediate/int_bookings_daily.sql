-- Bookings per creation date, service category and currency with their current status: the
-- one definition that both mart_service_usage (by month) and mart_metric_daily (by day) sum.
select
    bookings.created_date,
    bookings.service_category,
    bookings.currency,
    count(*) as bookings,
    count(*) filter (where bookings.is_completed) as completed,
    count(*) filter (where bookings.is_cancelled) as cancelled,
    count(*) filter (where bookings.is_no_show) as no_show
from {{ ref('int_bookings_enriched') }} as bookings
group by bookings.created_date, bookings.service_category, bookings.currency
