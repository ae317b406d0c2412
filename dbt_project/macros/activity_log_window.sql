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
