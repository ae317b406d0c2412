-- One row per payment that collected a customer's money (status paid or refunded, i.e. the
-- gross revenue of docs/metrics.md), UUIDs only. The dated purchase history the prediction models
-- learn from: lifetime value (BG/NBD transactions, Gamma-Gamma spend) and the monetary
-- features and RFM scores, always per currency. The refund status is deliberately absent: it
-- is the payment's *current* status, unknown at a past snapshot date.
select
    cast(payments.customer_id as string) as customer_id,
    cast(payments.payment_id as string) as payment_id,
    cast(payments.payment_at as {{ type_timestamptz() }}) as paid_at,
    cast(payments.payment_date as date) as paid_date,
    cast(payments.currency as string) as currency,
    cast(payments.amount as decimal(18, 2)) as amount,
    cast(payments.service_category as string) as service_category
from {{ ref('int_payments_enriched') }} as payments
where payments.is_collected
