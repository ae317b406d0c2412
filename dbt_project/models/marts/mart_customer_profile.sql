-- One row per customer (UUID only, no names or contact data): signup, demographics, device
-- of the latest activity, pet species owned and bookings created so far.
select
    cast(customers.customer_id as string) as customer_id,
    cast(customers.signup_at as {{ type_timestamptz() }}) as signup_at,
    cast(customers.signup_date as date) as signup_date,
    cast(customers.age_group as string) as age_group,
    cast(customers.gender as string) as gender,
    cast(customers.country as string) as country,
    cast(customers.city as string) as city,
    cast(customers.device_type as string) as device_type,
    cast(customers.pet_species as {{ type_string_list() }}) as pet_species,
    cast(coalesce(bookings.bookings, 0) as bigint) as bookings
from {{ ref('int_customers') }} as customers
left join (
    select
        bookings.customer_id,
        count(*) as bookings
    from {{ ref('int_bookings_enriched') }} as bookings
    group by bookings.customer_id
) as bookings on customers.customer_id = bookings.customer_id
