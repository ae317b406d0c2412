-- Customers' payments per payment date (paid_at, else created_at), service category and
-- currency: collected money and refunds as mart_service_usage defines them (summed by month
-- there, by day in mart_metric_daily), plus the counts of collected and failed attempts.
select
    payments.payment_date,
    payments.service_category,
    payments.currency,
    count(*) filter (where payments.is_collected) as collected_payments,
    count(*) filter (where payments.payment_status = 'failed') as failed_payments,
    count(*) filter (where payments.payment_status = 'refunded') as refunded_payments,
    sum(payments.gross_amount) as gross_revenue,
    sum(payments.refund_amount) as refunds
from {{ ref('int_payments_enriched') }} as payments
group by payments.payment_date, payments.service_category, payments.currency
