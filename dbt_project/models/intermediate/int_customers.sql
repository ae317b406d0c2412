-- One row per current customer (role = 'customer'; erased users are gone from the lake):
-- signup time and cohorts in the business time zone, demographics, age group at the
-- high-water mark, the device of the most recent activity and the species of owned pets.
with customers as (
    select
        users.user_id as customer_id,
        users.created_at as signup_at,
        users.date_of_birth,
        coalesce(users.gender, 'unknown') as gender,
        users.is_email_verified,
        users.is_active
    from {{ ref('stg_petpro__users') }} as users
    where users.role = 'customer'
),

addresses as (
    -- The default address, else the most recent one.
    {%- set address_order = ['addresses.is_default', 'addresses.created_at', 'addresses.address_id'] %}
    select
        addresses.user_id,
        {{ arg_max_by('addresses.country', address_order) }} as country,
        {{ arg_max_by('addresses.city', address_order) }} as city
    from {{ ref('stg_petpro__user_addresses') }} as addresses
    group by addresses.user_id
),

last_device as (
    select
        devices.user_id,
        devices.device_type
    from {{ ref('int_user_last_device') }} as devices
),

species as (
    select
        pets.owner_id,
        {{ sorted_distinct_list('pets.species') }} as pet_species,
        count(*) as pets
    from {{ ref('stg_petpro__pets') }} as pets
    where not pets.is_deleted
    group by pets.owner_id
),

hwm as (
    select high_water_date from {{ ref('int_high_water_mark') }}
),

enriched as (
    select
        customers.customer_id,
        customers.signup_at,
        {{ to_local('customers.signup_at') }} as signup_at_local,
        {{ local_date('customers.signup_at') }} as signup_date,
        customers.date_of_birth,
        -- Whole years between birth and the high-water date.
        case
            when customers.date_of_birth is null or hwm.high_water_date is null then null
            else
                date_part('year', hwm.high_water_date) - date_part('year', customers.date_of_birth)
                - case
                    when
                        date_part('month', hwm.high_water_date) * 100 + date_part('day', hwm.high_water_date)
                        < date_part('month', customers.date_of_birth) * 100 + date_part('day', customers.date_of_birth)
                        then 1
                    else 0
                end
        end as age_years,
        customers.gender,
        coalesce(addresses.country, 'unknown') as country,
        coalesce(addresses.city, 'unknown') as city,
        coalesce(last_device.device_type, 'unknown') as device_type,
        coalesce(species.pet_species, {{ empty_string_list() }}) as pet_species,
        coalesce(species.pets, 0) as pets,
        customers.is_email_verified,
        customers.is_active
    from customers
    cross join hwm
    left join addresses on customers.customer_id = addresses.user_id
    left join last_device on customers.customer_id = last_device.user_id
    left join species on customers.customer_id = species.owner_id
)

select
    enriched.customer_id,
    enriched.signup_at,
    enriched.signup_at_local,
    enriched.signup_date,
    {{ week_start('enriched.signup_date') }} as cohort_week,
    {{ month_start('enriched.signup_date') }} as cohort_month,
    enriched.date_of_birth,
    cast(enriched.age_years as integer) as age_years,
    case
        when enriched.age_years is null or enriched.age_years < 18 then 'unknown'
        when enriched.age_years < 25 then '18-24'
        when enriched.age_years < 35 then '25-34'
        when enriched.age_years < 45 then '35-44'
        when enriched.age_years < 55 then '45-54'
        when enriched.age_years < 65 then '55-64'
        else '65+'
    end as age_group,
    enriched.gender,
    enriched.country,
    enriched.city,
    enriched.device_type,
    enriched.pet_species,
    cast(enriched.pets as bigint) as pets,
    enriched.is_email_verified,
    enriched.is_active
from enriched
