select
    cast(id as varchar) as vendor_id,
    cast(user_id as varchar) as user_id,
    cast(business_name as varchar) as business_name,
    nullif(trim(city), '') as city,
    nullif(trim(state), '') as state,
    nullif(trim(country), '') as country,
    cast(status as varchar) as vendor_status,
    cast(average_rating as decimal(3, 2)) as average_rating,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ source('petpro', 'vendors') }}
