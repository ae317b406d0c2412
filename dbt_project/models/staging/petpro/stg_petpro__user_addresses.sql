select
    cast(id as varchar) as address_id,
    cast(user_id as varchar) as user_id,
    nullif(trim(city), '') as city,
    nullif(trim(state), '') as state,
    nullif(trim(country), '') as country,
    coalesce(is_default, false) as is_default,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ source('petpro', 'user_addresses') }}
