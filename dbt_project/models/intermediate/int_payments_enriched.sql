-- Customers' payments with the booked service's category. Collected money is a payment with
-- status paid or refunded; a refunded payment's amount is also a refund (net = gross - refunds).
select
    payments.payment_id,
    payments.booking_id,
    payments.user_id as customer_id,
    coalesce(services.service_category, 'other') as service_category,
    payments.payment_status,
    payments.amount,
    payments.currency,
    payments.payment_at,
    payments.payment_date,
    {{ month_start('payments.payment_date') }} as payment_month,
    payments.payment_status in ('paid', 'refunded') as is_collected,
    case when payments.payment_status in ('paid', 'refunded') then payments.amount else 0 end as gross_amount,
    case when payments.payment_status = 'refunded' then payments.amount else 0 end as refund_amount,
    case when payments.payment_status = 'paid' then payments.amount else 0 end as net_amount
from {{ ref('stg_petpro__payments') }} as payments
inner join {{ ref('int_customers') }} as customers on payments.user_id = customers.customer_id
left join {{ ref('stg_petpro__bookings') }} as bookings on payments.booking_id = bookings.booking_id
left join {{ ref('stg_petpro__services') }} as services on bookings.service_id = services.service_id
