select
    cast(id as string) as address_id,
    cast(user_id as string) as user_id,
    nullif(trim(city), '') as city,
    nullif(trim(state), '') as state,
    nullif(trim(country), '') as country,
    coalesce(is_default, false) as is_default,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at
from {{ source('petpro', 'user_addresses') }}
