{#-
    The recent activity history of each customer, for GET /activities/user/{userId}: the
    activities of the last `activity_log_days` days to the high-water mark, at most
    `activity_log_per_customer` per customer (newest first). Bounded so that publishing it
    stays cheap at 20M activities. Nothing personal: the description is the activity type in
    words (the source's free text is not copied), and the metadata is rebuilt from an
    allow-list of decoded keys (ids, amount, currency, rating, service type, species); IPs,
    user agents and any other metadata key never reach it; a NULL key is left out.

    Incremental on DuckDB (a sliding top-N, so a nightly run decodes one window of activities
    instead of 90 days and writes only those rows): the pre-hook deletes the rows of the
    activity-date window and those that fell out of the 90 days; the window's activities are
    appended; a post-hook then deletes, for the customers now holding more than N rows, the
    rows beyond their newest N, and another drops erased customers. Exact for an append-only
    log: a row left out of a customer's top N had N newer rows, and those are all still there.
    Appending rather than re-ranking every customer the window touched (delete+insert on
    customer_id) keeps the write to the window's rows: on a 320,000-customer history a 7-day
    window rewrote 3.5M rows to change 455,000. Spark rebuilds the table whole
    (in_place_strategy: no window).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=in_place_strategy('append'),
        on_schema_change='fail',
        pre_hook=["{{ trim_activity_log() }}"],
        post_hook=["{{ cap_activity_log() }}", "{{ delete_erased_customers('customer_id') }}"],
        tags=['incremental'],
    )
}}

{%- set window = incremental_window('activity_date') %}
{%- set windowed = is_incremental() and (window.start is not none or window.end is not none) %}

with hwm as (
    select high_water_date from {{ ref('int_high_water_mark') }}
),

fresh as (
    select
        cast(activities.user_id as string) as customer_id,
        cast(activities.activity_id as string) as activity_id,
        cast(activities.activity_type as string) as activity_type,
        cast(activities.activity_at as {{ type_timestamptz() }}) as activity_at,
        cast(activities.activity_date as date) as activity_date,
        cast(
            upper(left(activities.activity_type, 1)) || replace(substr(activities.activity_type, 2), '_', ' ')
            as string
        ) as description,
        cast(activities.device_type as string) as device_type,
        cast({{ json_object_without_nulls([
            ('bookingId', 'activities.booking_id'),
            ('paymentId', 'activities.payment_id'),
            ('amount', 'cast(activities.amount as double)'),
            ('currency', 'activities.currency'),
            ('rating', 'activities.rating'),
            ('serviceType', 'activities.service_type'),
            ('petId', 'activities.pet_id'),
            ('species', json_text(json_parse('activities.metadata'), 'species')),
        ]) }} as string) as metadata
    from {{ ref('stg_petpro__activities') }} as activities
    inner join {{ ref('int_customers') }} as customers on activities.user_id = customers.customer_id
    cross join hwm
    where activities.activity_date > hwm.high_water_date - {{ var('activity_log_days') }}
        {{- activity_log_partition_filter() }}
        {%- if windowed %}
            {{- activity_window_filter(window, 'activities.activity_date', 'activities.partition_date') }}
        {%- endif %}
),

ranked as (
    select
        fresh.customer_id,
        fresh.activity_id,
        fresh.activity_type,
        fresh.activity_at,
        fresh.activity_date,
        fresh.description,
        fresh.device_type,
        fresh.metadata,
        -- Within the window's activities only, when windowed: a row beyond the newest N of the
        -- window is beyond the newest N of all; the post-hook caps what is left.
        row_number() over (
            partition by fresh.customer_id
            order by fresh.activity_at desc, fresh.activity_id desc
        ) as recency_rank
    from fresh
)

select
    ranked.customer_id,
    ranked.activity_id,
    ranked.activity_type,
    ranked.activity_at,
    ranked.activity_date,
    ranked.description,
    ranked.device_type,
    ranked.metadata
from ranked
where ranked.recency_rank <= {{ var('activity_log_per_customer') }}
