-- One row per booking of a current customer (customer UUIDs only): which service, vendor and
-- category, for which pet species, when, its status and the customer's published review
-- rating. The training input of the service recommender (predictions/recommend_*.py) and the
-- ground truth of its evaluation.
with reviews as (
    select
        reviews.booking_id,
        {{ arg_max_by('reviews.rating', ['reviews.created_at', 'reviews.review_id']) }} as rating
    from {{ ref('stg_petpro__reviews') }} as reviews
    where reviews.review_status = 'published'
    group by reviews.booking_id
)

select
    cast(enriched.booking_id as string) as booking_id,
    cast(enriched.customer_id as string) as customer_id,
    cast(enriched.service_id as string) as service_id,
    cast(services.vendor_id as string) as vendor_id,
    cast(enriched.service_category as string) as service_category,
    cast(coalesce(pets.species, 'unknown') as string) as pet_species,
    cast(enriched.booking_status as string) as booking_status,
    cast(enriched.created_at as {{ type_timestamptz() }}) as booked_at,
    cast(enriched.created_date as date) as booked_date,
    cast(reviews.rating as integer) as review_rating
from {{ ref('int_bookings_enriched') }} as enriched
inner join {{ ref('stg_petpro__bookings') }} as bookings on enriched.booking_id = bookings.booking_id
left join {{ ref('stg_petpro__pets') }} as pets on bookings.pet_id = pets.pet_id
left join {{ ref('stg_petpro__services') }} as services on enriched.service_id = services.service_id
left join reviews on enriched.booking_id = reviews.booking_id
