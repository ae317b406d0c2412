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
    activity-date window (they are decoded again from the lake and appended) and the rows that
    fell out of the last `activity_log_days` days; without a window (an incremental run on an
    empty table) every row, since the model then ranks the whole 90 days again. Nothing on a
    first build, nor on Spark, which rebuilds the table whole.
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
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Post-hook of mart_customer_activity_log on an incremental run: the window's activities
    were appended, so a customer may now hold more than `activity_log_per_customer` rows;
    delete those beyond the newest N (same order as the full build's ranking). Only the
    customers over the cap are ranked, so after a run without a window (whose select ranked
    everything) it deletes nothing. Nothing on a first build, nor on Spark.
-#}
{% macro cap_activity_log() -%}
    {{ return(adapter.dispatch("cap_activity_log")()) }}
{%- endmacro %}

{% macro spark__cap_activity_log() -%}
{%- endmacro %}

{% macro default__cap_activity_log() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where rowid in (
            select ranked.row_id
            from (
                select
                    held.rowid as row_id,
                    row_number() over (
                        partition by held.customer_id
                        order by held.activity_at desc, held.activity_id desc
                    ) as recency_rank
                from {{ this }} as held
                where held.customer_id in (
                    select over_cap.customer_id
                    from {{ this }} as over_cap
                    group by over_cap.customer_id
                    having count(*) > {{ var('activity_log_per_customer') }}
                )
            ) as ranked
            where ranked.recency_rank > {{ var('activity_log_per_customer') }}
        )
    {%- endif -%}
{%- endmacro %}
