-- Customer x demographic dimension: the customer's segment in each dimension (one row per pet
-- species owned, or 'none' without pets). The one definition of segment membership:
-- mart_customer_demographics counts these rows, and the API filters customers with them.
with customers as (
    select * from {{ ref('int_customers') }}
),

segments as (
    select
        customers.customer_id,
        'age_group' as dimension,
        customers.age_group as segment
    from customers
    union all
    select
        customers.customer_id,
        'gender' as dimension,
        customers.gender as segment
    from customers
    union all
    select
        customers.customer_id,
        'country' as dimension,
        customers.country as segment
    from customers
    union all
    select
        customers.customer_id,
        'city' as dimension,
        customers.city as segment
    from customers
    union all
    select
        customers.customer_id,
        'device_type' as dimension,
        customers.device_type as segment
    from customers
    union all
    select
        customers.customer_id,
        'pet_species' as dimension,
        {{ unnest_or_default('customers.pet_species', "'none'") }} as segment
    from customers
)

select
    cast(segments.customer_id as string) as customer_id,
    cast(segments.dimension as string) as dimension,
    cast(segments.segment as string) as segment
from segments
