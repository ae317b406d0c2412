select
    cast(id as string) as review_id,
    cast(user_id as string) as user_id,
    cast(booking_id as string) as booking_id,
    cast(service_id as string) as service_id,
    cast(vendor_id as string) as vendor_id,
    cast(rating as integer) as rating,
    cast(status as string) as review_status,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at
from {{ source('petpro', 'reviews') }}
