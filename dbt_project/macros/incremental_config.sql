{#-
    The one config of the customer x activity-date facts (int_customer_daily_activity,
    int_customer_hourly_activity, int_customer_active_days, int_customer_signup_day_activity,
    mart_customer_activity_daily):
    each run deletes and re-inserts its window of activity dates (incremental_window macro),
    fails on a schema change instead of drifting, and drops customers erased from the source
    since earlier runs. Called at the top of each model instead of repeating config().
-#}
{% macro incremental_by_activity_date() -%}
    {{ return(adapter.dispatch("incremental_by_activity_date")()) }}
{%- endmacro %}

{% macro default__incremental_by_activity_date() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['activity_date'],
        on_schema_change='fail',
        pre_hook=["{{ delete_incremental_window('activity_date') }}"],
        post_hook=["{{ delete_erased_customers('customer_id') }}"],
        tags=['incremental'],
    ) }}
{%- endmacro %}

{% macro spark__incremental_by_activity_date() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['activity_date'],
        file_format='parquet',
        on_schema_change='fail',
        pre_hook=["{{ delete_incremental_window('activity_date') }}"],
        tags=['incremental'],
    ) }}
{%- endmacro %}
