select
    cast(id as varchar) as service_id,
    cast(vendor_id as varchar) as vendor_id,
    cast(name as varchar) as service_name,
    cast(category as varchar) as service_category,
    cast(price as decimal(18, 2)) as price,
    upper(trim(currency)) as currency,
    cast(duration_minutes as integer) as duration_minutes,
    cast(is_active as boolean) as is_active,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at
from {{ source('petpro', 'services') }}
