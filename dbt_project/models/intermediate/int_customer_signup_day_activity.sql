{#-
    Customer x activity date x rolling day N after signup, for the activities that fall on
    one of the days N of mart_nday_retention (macro nday_retention_days): day N is the
    24-hour window [signup + N*24h, signup + (N+1)*24h), on epoch microseconds so DST does
    not change its length. Incremental like int_customer_daily_activity (delete+insert on
    activity_date, erased customers dropped by the post-hook), so a nightly run reads only
    its window of the lake instead of every activity; the mart reads the distinct
    (customer, N) pairs from here. A rolling day spans at most two activity dates, so a
    customer has at most 2 x 6 rows.
-#}
{{ incremental_by_activity_date() }}

{%- set window = incremental_window('activity_date') %}
{%- set day_us = nday_day_microseconds() %}
{%- set signup_us = epoch_microseconds('customers.signup_at') %}
{%- set activity_us = epoch_microseconds('activities.activity_at') %}

select distinct
    activities.user_id as customer_id,
    activities.activity_date,
    cast(floor(({{ activity_us }} - {{ signup_us }}) / {{ day_us }}) as integer) as day_n
from {{ ref('stg_petpro__activities') }} as activities
inner join {{ ref('int_customers') }} as customers on activities.user_id = customers.customer_id
where
    cast(floor(({{ activity_us }} - {{ signup_us }}) / {{ day_us }}) as integer)
    in ({{ nday_retention_days() | join(', ') }})
    {{- activity_window_filter(window) }}
