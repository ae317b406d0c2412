-- One row per service with its vendor's location and status, and whether it can be booked
-- today (the service is active and its vendor is active): what the recommender may offer.
select
    cast(services.service_id as string) as service_id,
    cast(services.vendor_id as string) as vendor_id,
    cast(coalesce(services.service_category, 'other') as string) as service_category,
    cast(services.currency as string) as currency,
    cast(services.price as decimal(18, 2)) as price,
    cast(coalesce(vendors.city, 'unknown') as string) as vendor_city,
    cast(coalesce(vendors.country, 'unknown') as string) as vendor_country,
    cast(coalesce(vendors.vendor_status, 'unknown') as string) as vendor_status,
    cast(coalesce(services.is_active, false) as boolean) as is_active,
    cast(coalesce(services.is_active, false) and vendors.vendor_status = 'active' as boolean) as is_bookable
from {{ ref('stg_petpro__services') }} as services
left join {{ ref('stg_petpro__vendors') }} as vendors on services.vendor_id = vendors.vendor_id
