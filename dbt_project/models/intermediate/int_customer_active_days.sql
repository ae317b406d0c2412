{#-
    One row per customer and day with any activity; engaged = any engagement-type activity.
    Incremental over the same window as int_customer_daily_activity.
-#}
{{ incremental_by_activity_date() }}

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
