-- The recent activity history of each customer, for GET /activities/user/{userId}: the
-- activities of the last `activity_log_days` days to the high-water mark, at most
-- `activity_log_per_customer` per customer (newest first). Bounded so that publishing it
-- stays cheap at 20M activities. Nothing personal: the description is the activity type in
-- words (the source's free text is not copied), and the metadata is rebuilt from an
-- allow-list of decoded keys (ids, amount, currency, rating, service type, species); IPs,
-- user agents and any other metadata key never reach it; a NULL key is left out.
with hwm as (
    select high_water_date from {{ ref('int_high_water_mark') }}
),

recent as (
    select
        activities.user_id as customer_id,
        activities.activity_id,
        activities.activity_type,
        activities.activity_at,
        activities.activity_date,
        activities.device_type,
        {{ json_object_without_nulls([
            ('bookingId', 'activities.booking_id'),
            ('paymentId', 'activities.payment_id'),
            ('amount', 'cast(activities.amount as double)'),
            ('currency', 'activities.currency'),
            ('rating', 'activities.rating'),
            ('serviceType', 'activities.service_type'),
            ('petId', 'activities.pet_id'),
            ('species', json_text(json_parse('activities.metadata'), 'species')),
        ]) }} as metadata,
        row_number() over (
            partition by activities.user_id
            order by activities.activity_at desc, activities.activity_id desc
        ) as recency_rank
    from {{ ref('stg_petpro__activities') }} as activities
    inner join {{ ref('int_customers') }} as customers on activities.user_id = customers.customer_id
    cross join hwm
    where activities.activity_date > hwm.high_water_date - {{ var('activity_log_days') }}
    {{- activity_log_partition_filter() }}
)

select
    cast(recent.customer_id as string) as customer_id,
    cast(recent.activity_id as string) as activity_id,
    cast(recent.activity_type as string) as activity_type,
    cast(recent.activity_at as {{ type_timestamptz() }}) as activity_at,
    cast(recent.activity_date as date) as activity_date,
    cast(upper(left(recent.activity_type, 1)) || replace(substr(recent.activity_type, 2), '_', ' ') as string)
        as description,
    cast(recent.device_type as string) as device_type,
    cast(recent.metadata as string) as metadata
from recent
where recent.recency_rank <= {{ var('activity_log_per_customer') }}
