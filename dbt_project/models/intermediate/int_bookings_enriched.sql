-- Customers' bookings with the service category and business-time-zone month.
select
    bookings.booking_id,
    bookings.user_id as customer_id,
    bookings.service_id,
    coalesce(services.service_category, 'other') as service_category,
    bookings.booking_status,
    bookings.amount,
    bookings.currency,
    bookings.created_at,
    bookings.created_date,
    {{ month_start('bookings.created_date') }} as created_month,
    bookings.booking_status = 'completed' as is_completed,
    bookings.booking_status = 'cancelled' as is_cancelled,
    bookings.booking_status = 'no_show' as is_no_show
from {{ ref('stg_petpro__bookings') }} as bookings
inner join {{ ref('int_customers') }} as customers on bookings.user_id = customers.customer_id
left join {{ ref('stg_petpro__services') }} as services on bookings.service_id = services.service_id
