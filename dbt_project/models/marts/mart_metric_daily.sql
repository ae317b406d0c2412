{#-
    The KPI series: one row per complete business date x metric (x currency for money), long
    format, for the statistics of insights/ (anomalies, trends) and the dashboard's KPI tiles.
    Every value is taken from the model that defines it for the other marts, never re-derived:
    new and active customers from mart_customer_growth (interval 'day'), logins and
    cancellations from mart_customer_activity (activity events of the day), bookings from
    int_bookings_daily and payments/revenue from int_payments_daily (what mart_service_usage
    sums by month), reviews from int_reviews_daily. Days without events carry 0 (NULL for a
    ratio whose denominator is 0). Only complete days appear: a day still being recorded
    would look like a collapse.
    metric_kind tells how a metric behaves and aggregates over a week or month:
    count (events, additive), daily_distinct (distinct customers of the day; weeks average
    the days), ratio and average (numerator / denominator, both additive), money (additive,
    per currency, never summed across currencies; the denominator holds the number of payments
    behind the amount, so the statistics can judge a sum of a few large payments fairly).
-#}
{%- set interval = adapter.quote("interval") %}

with days as (
    select spine.period_start as metric_date
    from {{ ref('int_period_spine') }} as spine
    where spine.{{ interval }} = 'day' and spine.is_complete
),

growth as (
    select
        growth.period_start as metric_date,
        growth.new_customers,
        growth.active_customers
    from {{ ref('mart_customer_growth') }} as growth
    where growth.{{ interval }} = 'day'
),

activity as (
    select
        activity.period_start as metric_date,
        sum(activity.events) filter (where activity.activity_type = 'login') as logins,
        sum(activity.events) filter (where activity.activity_type = 'booking_cancelled') as bookings_cancelled
    from {{ ref('mart_customer_activity') }} as activity
    where activity.{{ interval }} = 'day'
    group by activity.period_start
),

bookings as (
    select
        daily.created_date as metric_date,
        sum(daily.bookings) as bookings_created
    from {{ ref('int_bookings_daily') }} as daily
    group by daily.created_date
),

payments as (
    select
        daily.payment_date as metric_date,
        sum(daily.collected_payments) as payments_succeeded,
        sum(daily.failed_payments) as failed_payments
    from {{ ref('int_payments_daily') }} as daily
    group by daily.payment_date
),

money as (
    select
        daily.payment_date as metric_date,
        daily.currency,
        sum(daily.gross_revenue) as gross_revenue,
        sum(daily.refunds) as refunds,
        sum(daily.collected_payments) as collected_payments,
        sum(daily.refunded_payments) as refunded_payments
    from {{ ref('int_payments_daily') }} as daily
    where daily.currency is not null
    group by daily.payment_date, daily.currency
),

currencies as (
    select distinct money.currency from money
),

per_day as (
    select
        days.metric_date,
        coalesce(growth.new_customers, 0) as new_customers,
        coalesce(growth.active_customers, 0) as active_customers,
        coalesce(activity.logins, 0) as logins,
        coalesce(bookings.bookings_created, 0) as bookings_created,
        coalesce(activity.bookings_cancelled, 0) as bookings_cancelled,
        coalesce(payments.payments_succeeded, 0) as payments_succeeded,
        coalesce(payments.failed_payments, 0) as failed_payments,
        coalesce(reviews.reviews, 0) as reviews,
        coalesce(reviews.rating_sum, 0) as rating_sum
    from days
    left join growth on days.metric_date = growth.metric_date
    left join activity on days.metric_date = activity.metric_date
    left join bookings on days.metric_date = bookings.metric_date
    left join payments on days.metric_date = payments.metric_date
    left join {{ ref('int_reviews_daily') }} as reviews on days.metric_date = reviews.review_date
),

per_day_money as (
    select
        days.metric_date,
        currencies.currency,
        coalesce(money.gross_revenue, 0) as gross_revenue,
        coalesce(money.refunds, 0) as refunds,
        coalesce(money.collected_payments, 0) as collected_payments,
        coalesce(money.refunded_payments, 0) as refunded_payments
    from days
    cross join currencies
    left join money on days.metric_date = money.metric_date and currencies.currency = money.currency
),

catalog as (
    select
        catalog.metric,
        catalog.metric_kind,
        catalog.position
    from (
        values
        ('new_customers', 'count', 1),
        ('active_customers', 'daily_distinct', 2),
        ('logins', 'count', 3),
        ('bookings_created', 'count', 4),
        ('bookings_cancelled', 'count', 5),
        ('cancellation_rate', 'ratio', 6),
        ('payments_succeeded', 'count', 7),
        ('failed_payments', 'count', 8),
        ('payment_failure_rate', 'ratio', 9),
        ('reviews', 'count', 10),
        ('average_rating', 'average', 11),
        ('gross_revenue', 'money', 12),
        ('refunds', 'money', 13),
        ('net_revenue', 'money', 14)
    ) as catalog (metric, metric_kind, position)
),

long as (
    select
        per_day.metric_date,
        catalog.metric,
        catalog.metric_kind,
        catalog.position,
        null as currency,
        case catalog.metric
            when 'new_customers' then per_day.new_customers
            when 'active_customers' then per_day.active_customers
            when 'logins' then per_day.logins
            when 'bookings_created' then per_day.bookings_created
            when 'bookings_cancelled' then per_day.bookings_cancelled
            when 'cancellation_rate' then per_day.bookings_cancelled
            when 'payments_succeeded' then per_day.payments_succeeded
            when 'failed_payments' then per_day.failed_payments
            when 'payment_failure_rate' then per_day.failed_payments
            when 'reviews' then per_day.reviews
            when 'average_rating' then per_day.rating_sum
        end as numerator,
        case catalog.metric
            when 'cancellation_rate' then per_day.bookings_created
            when 'payment_failure_rate' then per_day.failed_payments + per_day.payments_succeeded
            when 'average_rating' then per_day.reviews
        end as denominator
    from per_day
    cross join catalog
    where catalog.metric_kind != 'money'
    union all
    select
        per_day_money.metric_date,
        catalog.metric,
        catalog.metric_kind,
        catalog.position,
        per_day_money.currency,
        case catalog.metric
            when 'gross_revenue' then per_day_money.gross_revenue
            when 'refunds' then per_day_money.refunds
            when 'net_revenue' then per_day_money.gross_revenue - per_day_money.refunds
        end as numerator,
        case catalog.metric
            when 'refunds' then per_day_money.refunded_payments
            else per_day_money.collected_payments
        end as denominator
    from per_day_money
    cross join catalog
    where catalog.metric_kind = 'money'
)

select
    cast(long.metric_date as date) as metric_date,
    cast(long.metric as string) as metric,
    cast(long.metric_kind as string) as metric_kind,
    cast(long.currency as string) as currency,
    -- As a double: the numerator column also holds money (decimal), whose division Spark
    -- would round to a few decimal places.
    cast(
        case
            when long.metric_kind in ('ratio', 'average')
                then {{ ratio('cast(long.numerator as double)', 'long.denominator') }}
            else long.numerator
        end as double
    ) as value,
    cast(long.numerator as double) as numerator,
    cast(long.denominator as double) as denominator
from long
order by long.metric_date, long.position, long.currency
