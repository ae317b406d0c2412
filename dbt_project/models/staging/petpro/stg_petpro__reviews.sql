select
    cast(id as varchar) as review_id,
    cast(user_id as varchar) as user_id,
    cast(booking_id as varchar) as booking_id,
    cast(service_id as varchar) as service_id,
    cast(vendor_id as varchar) as vendor_id,
    cast(rating as integer) as rating,
    cast(status as varchar) as review_status,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ source('petpro', 'reviews') }}
