{#-
    Customer x activity date x hour of day (business time zone) counts, for the heatmap.
    Incremental like int_customer_daily_activity.
-#}
{{ incremental_by_activity_date() }}

{%- set window = incremental_window('activity_date') %}

select
    activities.user_id as customer_id,
    activities.activity_date,
    activities.activity_hour as hour_of_day,
    count(*) as events
from {{ ref('stg_petpro__activities') }} as activities
inner join {{ ref('int_customers') }} as customers on activities.user_id = customers.customer_id
where true
    {{- activity_window_filter(window) }}
group by activities.user_id, activities.activity_date, activities.activity_hour
