{#-
    Customer x activity date x activity type counts: the incremental fact every activity mart
    reads. Each run deletes and re-inserts exactly its window of activity dates (see the
    incremental_window macro: --vars min_date/max_date padded by late_days, else the table's
    max date - late_days), so any sequence of windows equals a full refresh. The post-hook
    drops customers erased from the source since earlier runs.
-#}
{{ incremental_by_activity_date() }}

{%- set window = incremental_window('activity_date') %}

select
    activities.user_id as customer_id,
    activities.activity_date,
    activities.activity_type,
    count(*) as events,
    activities.activity_type in {{ engagement_types_sql() }} as is_engagement
from {{ ref('stg_petpro__activities') }} as activities
inner join {{ ref('int_customers') }} as customers on activities.user_id = customers.customer_id
where true
    {{- activity_window_filter(window) }}
group by activities.user_id, activities.activity_date, activities.activity_type
