-- The activity log with metadata decoded into typed columns. try_cast turns a malformed
-- value into NULL (counted by a warn-severity test) instead of failing the build. The
-- activity date is recomputed from the timestamp in the business time zone; the hive
-- partition value is kept as partition_date only for file pruning.
{%- set ts = "parsed." ~ adapter.quote("timestamp") %}
select
    cast(parsed.id as string) as activity_id,
    cast(parsed.user_id as string) as user_id,
    cast(parsed.type as string) as activity_type,
    cast(parsed.description as string) as description,
    cast(parsed.metadata as string) as metadata,
    cast({{ ts }} as {{ type_timestamptz() }}) as activity_at,
    {{ to_local(ts) }} as activity_at_local,
    {{ local_date(ts) }} as activity_date,
    cast(hour({{ to_local(ts) }}) as integer) as activity_hour,
    cast(parsed.event_date as date) as partition_date,
    cast(parsed.created_at as {{ type_timestamptz() }}) as created_at,
    cast(parsed.updated_at as {{ type_timestamptz() }}) as updated_at,
    cast(parsed.ip_hash as string) as ip_hash,
    cast(parsed.ip_network as string) as ip_network,
    coalesce(cast(parsed.device_type as string), 'other') as device_type,
    cast(parsed.os_family as string) as os_family,
    cast(parsed.browser_family as string) as browser_family,
    {{ metadata_text('parsed.metadata_json', 'bookingId', 'booking_id') }} as booking_id,
    {{ metadata_text('parsed.metadata_json', 'paymentId', 'payment_id') }} as payment_id,
    try_cast({{ metadata_text('parsed.metadata_json', 'amount', 'amount') }} as decimal(18, 2)) as amount,
    upper({{ metadata_text('parsed.metadata_json', 'currency', 'currency') }}) as currency,
    try_cast({{ metadata_text('parsed.metadata_json', 'rating', 'rating') }} as integer) as rating,
    {{ metadata_text('parsed.metadata_json', 'serviceType', 'service_type') }} as service_type,
    {{ metadata_text('parsed.metadata_json', 'petId', 'pet_id') }} as pet_id
from (
    select
        raw.*,
        {{ json_parse('raw.metadata') }} as metadata_json
    from {{ source('petpro', 'activities') }} as raw
) as parsed
