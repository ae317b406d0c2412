{#-
    Customer-level daily activity (UUIDs only) so the API can count distinct customers exactly
    under any filter. Incremental over the same activity-date window as
    int_customer_daily_activity (delete+insert on activity_date); the post-hook drops
    customers erased since earlier runs, so any sequence of windows equals a full refresh.

    Stored by day, then customer (DuckDB; a global sort is not worth a shuffle on Spark):
    the API's customer-level answers count distinct customers per period over date ranges of
    this table, and rows clustered that way are read and counted with less work (the full
    rebuild sorts once; a nightly appends its sorted window after the days before it; the
    publication copies the table in order). docs/api.md, "The customer-level fact stored in
    order".
-#}
{{ incremental_by_activity_date() }}

{%- set window = incremental_window('activity_date') %}

select
    cast(daily.customer_id as string) as customer_id,
    cast(daily.activity_date as date) as activity_date,
    cast(daily.activity_type as string) as activity_type,
    cast(daily.events as bigint) as events
from {{ ref('int_customer_daily_activity') }} as daily
inner join {{ ref('int_customers') }} as customers on daily.customer_id = customers.customer_id
where true
    {{- date_window_filter(window, 'daily.activity_date') }}
{%- if target.type == 'duckdb' %}
    order by daily.activity_date, daily.customer_id
{%- endif %}
