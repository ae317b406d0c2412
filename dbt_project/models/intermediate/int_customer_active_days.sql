{#-
    One row per customer and day with any activity; engaged = any engagement-type activity.
    Incremental over the same window as int_customer_daily_activity.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['activity_date'],
        on_schema_change='fail',
        pre_hook=["{{ delete_incremental_window('activity_date') }}"],
        post_hook=["{{ delete_erased_customers('customer_id') }}"],
        tags=['incremental'],
    )
}}

{%- set window = incremental_window('activity_date') %}

select
    daily.customer_id,
    daily.activity_date,
    cast(sum(daily.events) as bigint) as events,
    bool_or(daily.is_engagement) as is_engaged
from {{ ref('int_customer_daily_activity') }} as daily
inner join {{ ref('int_customers') }} as customers on daily.customer_id = customers.customer_id
where true
    {{- date_window_filter(window, 'daily.activity_date') }}
group by daily.customer_id, daily.activity_date
