-- Bookings with their current status; created_date is the business-time-zone date.
select
    cast(id as string) as booking_id,
    cast(user_id as string) as user_id,
    cast(service_id as string) as service_id,
    cast(pet_id as string) as pet_id,
    cast(start_time as {{ type_timestamptz() }}) as start_at,
    cast(end_time as {{ type_timestamptz() }}) as end_at,
    cast(status as string) as booking_status,
    cast(amount as decimal(18, 2)) as amount,
    upper(trim(currency)) as currency,
    cast(cancellation_reason as string) as cancellation_reason,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    {{ local_date('created_at') }} as created_date,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at
from {{ source('petpro', 'bookings') }}
