{#-
    The distinct customer x ISO day of week x hour of day cells (business time zone) in which
    each customer was ever active, with the latest such date: the heatmap counts its distinct
    active customers over the full history from here. Incremental over the same activity-date
    window as int_customer_hourly_activity (own latest date - late_days without vars): the
    window's cells are inserted when absent (delete+insert on the cell, keeping the later
    last_date), never recomputed from the whole history; activities only ever disappear with
    their customer, whom the post-hook deletes.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=in_place_strategy('delete+insert'),
        unique_key=['customer_id', 'day_of_week', 'hour_of_day'],
        on_schema_change='fail',
        post_hook=["{{ delete_erased_customers('customer_id') }}"],
        tags=['incremental'],
    )
}}

{%- set window = incremental_window('last_date') %}

with windowed as (
    select
        hourly.customer_id,
        cast({{ iso_day_of_week('hourly.activity_date') }} as integer) as day_of_week,
        cast(hourly.hour_of_day as integer) as hour_of_day,
        max(hourly.activity_date) as last_date
    from {{ ref('int_customer_hourly_activity') }} as hourly
    where true
        {{- date_window_filter(window, 'hourly.activity_date') }}
    group by 1, 2, 3
),

held as (
    -- The cells already held (none on a first build, --full-refresh or a window of everything).
    {%- if is_incremental() and (window.start is not none or window.end is not none) %}
        select
            cells.customer_id,
            cells.day_of_week,
            cells.hour_of_day,
            cells.last_date
        from {{ this }} as cells
    {%- else %}
        select
            cast(null as string) as customer_id,
            cast(null as integer) as day_of_week,
            cast(null as integer) as hour_of_day,
            cast(null as date) as last_date
        where false
    {%- endif %}
)

select
    windowed.customer_id,
    windowed.day_of_week,
    windowed.hour_of_day,
    greatest(windowed.last_date, coalesce(held.last_date, windowed.last_date)) as last_date
from windowed
left join held
    on
        windowed.customer_id = held.customer_id
        and windowed.day_of_week = held.day_of_week
        and windowed.hour_of_day = held.hour_of_day
