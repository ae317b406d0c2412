{#-
    Partition filter of mart_customer_activity_log: the high-water date read at compile time
    (a constant, so DuckDB prunes the activity partitions outside the window), padded by a day
    for partitions written in another zone. Empty while parsing (nothing is executed then).
-#}
{% macro activity_log_partition_filter(partition_column="activities.partition_date") -%}
    {%- if execute -%}
        {%- set result = run_query("select max(high_water_date) from " ~ ref('int_high_water_mark')) -%}
        {%- set high_water = result.columns[0].values()[0] -%}
        {%- if high_water is not none %}
            and {{ partition_column }} >= date '{{ high_water }}' - {{ var('activity_log_days') | int + 1 }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Pre-hook of mart_customer_activity_log on an incremental run: delete the rows of the
    activity-date window (they are decoded again from the lake) and the rows that fell out of
    the last `activity_log_days` days. Nothing without a window (first build, or Spark, which
    rebuilds the table whole).
-#}
{% macro trim_activity_log() -%}
    {{ return(adapter.dispatch("trim_activity_log")()) }}
{%- endmacro %}

{% macro spark__trim_activity_log() -%}
{%- endmacro %}

{% macro default__trim_activity_log() -%}
    {%- if is_incremental() -%}
        {%- set window = incremental_window('activity_date') -%}
        {%- if window.start is not none or window.end is not none -%}
            delete from {{ this }}
            where
                activity_date <= (select hwm.high_water_date from {{ ref('int_high_water_mark') }} as hwm)
                - {{ var('activity_log_days') }}
                or (true {{ date_window_filter(window, 'activity_date') }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
