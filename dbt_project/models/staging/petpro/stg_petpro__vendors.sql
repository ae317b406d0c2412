select
    cast(id as string) as vendor_id,
    cast(user_id as string) as user_id,
    cast(business_name as string) as business_name,
    nullif(trim(city), '') as city,
    nullif(trim(state), '') as state,
    nullif(trim(country), '') as country,
    cast(status as string) as vendor_status,
    cast(average_rating as decimal(3, 2)) as average_rating,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at
from {{ source('petpro', 'vendors') }}
