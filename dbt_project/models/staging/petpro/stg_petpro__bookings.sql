-- Bookings with their current status; created_date is the business-time-zone date.
select
    cast(id as varchar) as booking_id,
    cast(user_id as varchar) as user_id,
    cast(service_id as varchar) as service_id,
    cast(pet_id as varchar) as pet_id,
    cast(start_time as timestamptz) as start_at,
    cast(end_time as timestamptz) as end_at,
    cast(status as varchar) as booking_status,
    cast(amount as decimal(18, 2)) as amount,
    upper(trim(currency)) as currency,
    cast(cancellation_reason as varchar) as cancellation_reason,
    cast(created_at as timestamptz) as created_at,
    {{ local_date('created_at') }} as created_date,
    cast(updated_at as timestamptz) as updated_at
from {{ source('petpro', 'bookings') }}
