select
    cast(id as string) as service_id,
    cast(vendor_id as string) as vendor_id,
    cast(name as string) as service_name,
    cast(category as string) as service_category,
    cast(price as decimal(18, 2)) as price,
    upper(trim(currency)) as currency,
    cast(duration_minutes as integer) as duration_minutes,
    cast(is_active as boolean) as is_active,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at
from {{ source('petpro', 'services') }}
