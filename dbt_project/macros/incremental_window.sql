-- noqa: disable=LT02
{#-
    The activity-date window an incremental model (re)builds, as SQL date literals.

    - a run window (`window_bound`: the orchestrator's environment, or
      `--vars '{min_date: 2024-06-01, max_date: 2024-06-03}'`): [min_date - late_days, max_date];
    - incremental run without vars: [max(activity_date) already in the table - late_days, open];
    - first build or --full-refresh: no window (everything).
    Returns a dict {start: 'date literal' | none, end: 'date literal' | none}; computed at
    compile time so that the hive partition filter is a constant DuckDB can prune on.
-#}
{#-
    One bound of the run's window (`min_date` or `max_date`), or none. The orchestrator sets
    it in the environment of the dbt process (PETPRO_DBT_MIN_DATE, PETPRO_DBT_MAX_DATE) rather
    than in --vars: dbt re-parses the whole project whenever --vars differ from its last
    parse's, and the window changes every run. Read only at execution (`execute`), so the
    parse never records the variable and its nightly change never invalidates a partial parse.
    Without it, `--vars` still works for a window chosen by hand.
-#}
{% macro window_bound(name) %}
    {%- if execute -%}
        {%- set value = env_var("PETPRO_DBT_" ~ (name | upper), "") -%}
        {%- if value -%}
            {{ return(value) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(var(name, none)) }}
{% endmacro %}

{% macro incremental_window(date_column="activity_date") %}
    {{ return(adapter.dispatch("incremental_window")(date_column)) }}
{% endmacro %}

{% macro default__incremental_window(date_column) %}
    {%- set late_days = var("late_days") | int -%}
    {%- set window = {"start": none, "end": none} -%}
    {%- if is_incremental() -%}
        {%- set min_date = window_bound("min_date") -%}
        {%- set max_date = window_bound("max_date") -%}
        {%- if min_date is not none -%}
            {%- do window.update({"start": "(date '" ~ min_date ~ "' - " ~ late_days ~ ")"}) -%}
        {%- elif execute -%}
            {%- set result = run_query("select max(" ~ date_column ~ ") from " ~ this) -%}
            {%- set latest = result.columns[0].values()[0] -%}
            {%- if latest is not none -%}
                {%- do window.update({"start": "(date '" ~ latest ~ "' - " ~ late_days ~ ")"}) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if max_date is not none -%}
            {%- do window.update({"end": "date '" ~ max_date ~ "'"}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#-
    WHERE-clause conditions restricting activities to the incremental window: on the hive
    partition value (padded by a day, so partitions written in another zone still match and
    DuckDB prunes files) and on the activity date recomputed from the timestamp (exact).
-#}
{% macro activity_window_filter(window, date_column="activity_date", partition_column="partition_date") -%}
    {%- if window.start is not none %}
        and {{ partition_column }} >= {{ window.start }} - 1
        and {{ date_column }} >= {{ window.start }}
    {%- endif %}
    {%- if window.end is not none %}
        and {{ partition_column }} <= {{ window.end }} + 1
        and {{ date_column }} <= {{ window.end }}
    {%- endif %}
{%- endmacro %}

{#-
    Spark: plain Parquet tables cannot DELETE, so the post-hook that drops erased customers
    has no Spark form. Instead, when the table holds a customer that int_customers no longer
    has, the window widens to everything and the table is rebuilt (truncated, then every
    partition written again).
-#}
{% macro spark__incremental_window(date_column) %}
    {%- if not config.get("partition_by") -%}
        {#- Not partitioned by date (in_place_strategy): insert_overwrite rebuilds the whole table. -#}
        {{ return({"start": none, "end": none}) }}
    {%- endif -%}
    {%- set window = default__incremental_window(date_column) -%}
    {%- if execute and is_incremental() and (window.start is not none or window.end is not none) -%}
        {%- set check -%}
            select count(*) from (select distinct held.customer_id from {{ this }} as held) as held
            where not exists (
                select 1 from {{ ref('int_customers') }} as customers where customers.customer_id = held.customer_id
            )
        {%- endset -%}
        {%- if run_query(check).columns[0].values()[0] > 0 -%}
            {%- do window.update({"start": none, "end": none, "rebuild": true}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#- Delete the incremental window before inserting it again (so days that lost every row are emptied too). -#}
{% macro delete_incremental_window(date_column="activity_date") -%}
    {{ return(adapter.dispatch("delete_incremental_window")(date_column)) }}
{%- endmacro %}

{% macro default__delete_incremental_window(date_column) -%}
    {%- if is_incremental() -%}
        {%- set window = incremental_window(date_column) -%}
        {%- if window.start is not none or window.end is not none -%}
            delete from {{ this }} where true
            {%- if window.start is not none %} and {{ date_column }} >= {{ window.start }}{% endif %}
            {%- if window.end is not none %} and {{ date_column }} <= {{ window.end }}{% endif %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Spark (insert_overwrite by activity_date partition): drop the window's partitions first,
    so a day that lost every row is emptied too; truncate everything on a rebuild.
-#}
{% macro spark__delete_incremental_window(date_column) -%}
    {%- if is_incremental() -%}
        {%- set window = incremental_window(date_column) -%}
        {%- if window.get("rebuild") -%}
            truncate table {{ this }}
        {%- elif window.start is not none or window.end is not none -%}
            {%- set held_days -%}
                select distinct {{ date_column }} from {{ this }}
                where true {{ date_window_filter(window, date_column) }}
                order by 1
            {%- endset -%}
            {%- set days = run_query(held_days).columns[0].values() if execute else [] -%}
            {%- if days | length > 0 -%}
                alter table {{ this }} drop if exists
                {%- for day in days %} partition ({{ date_column }} = '{{ day }}'){% if not loop.last %},{% endif %}{% endfor %}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Drop rows of customers that no longer exist (privacy erasure) or are no longer customers. -#}
{% macro delete_erased_customers(customer_column="customer_id") -%}
    {{ return(adapter.dispatch("delete_erased_customers")(customer_column)) }}
{%- endmacro %}

{#- Spark has no DELETE on Parquet tables: the window widens to a rebuild instead (above). -#}
{% macro spark__delete_erased_customers(customer_column) -%}
{%- endmacro %}

{% macro default__delete_erased_customers(customer_column) -%}
    delete from {{ this }} where {{ customer_column }} not in (select customer_id from {{ ref('int_customers') }})
{%- endmacro %}

{#- Conditions restricting a DATE column to the window (no partition column involved). -#}
{% macro date_window_filter(window, date_column) -%}
    {%- if window.start is not none %}
        and {{ date_column }} >= {{ window.start }}
    {%- endif %}
    {%- if window.end is not none %}
        and {{ date_column }} <= {{ window.end }}
    {%- endif %}
{%- endmacro %}

{#-
    A predicate selecting the day, ISO week and month periods that overlap the window
    (every period containing a re-processed day must be recomputed whole).
-#}
{% macro period_window_predicate(window, interval_column=none, start_column="period_start") -%}
    {%- set interval_column = interval_column or adapter.quote("interval") -%}
    (
        ({{ interval_column }} = 'day'
            {%- if window.start is not none %} and {{ start_column }} >= {{ window.start }}{% endif %}
            {%- if window.end is not none %} and {{ start_column }} <= {{ window.end }}{% endif %})
        or ({{ interval_column }} = 'week'
            {%- if window.start is not none %} and {{ start_column }} >= {{ week_start(window.start) }}{% endif %}
            {%- if window.end is not none %} and {{ start_column }} <= {{ week_start(window.end) }}{% endif %})
        or ({{ interval_column }} = 'month'
            {%- if window.start is not none %} and {{ start_column }} >= {{ month_start(window.start) }}{% endif %}
            {%- if window.end is not none %} and {{ start_column }} <= {{ month_start(window.end) }}{% endif %})
    )
{%- endmacro %}

{#- Pre-hook of the period table: delete the periods overlapping the window. -#}
{% macro delete_period_window() -%}
    {%- if is_incremental() -%}
        {%- set window = incremental_window('period_start') -%}
        {%- if window.start is not none or window.end is not none -%}
            delete from {{ this }} where {{ period_window_predicate(window) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Conditions on a daily column selecting every day of the ISO weeks and months that overlap
    the window (the days a period recomputed whole is made of).
-#}
{% macro period_days_filter(window, date_column) -%}
    {%- if window.start is not none %}
        and {{ date_column }} >= least({{ week_start(window.start) }}, {{ month_start(window.start) }})
    {%- endif %}
    {%- if window.end is not none %}
        and {{ date_column }} < greatest(
            {{ week_start(window.end) }} + 7, cast({{ month_start(window.end) }} + interval 1 month as date)
        )
    {%- endif %}
{%- endmacro %}

{#- The day after a day, ISO week or month period (as int_period_spine computes it). -#}
{% macro period_end(interval_column, start_column) -%}
    cast(
        case {{ interval_column }}
            when 'day' then {{ start_column }} + interval 1 day
            when 'week' then {{ start_column }} + interval 7 day
            else {{ start_column }} + interval 1 month
        end as date
    )
{%- endmacro %}

{#- A period is complete when it ended at or before the high-water mark (as int_period_spine). -#}
{% macro period_is_complete(interval_column, start_column, high_water_mark_local) -%}
    cast({{ period_end(interval_column, start_column) }} as timestamp) <= {{ high_water_mark_local }}
{%- endmacro %}

{#-
    The window of an incremental mart that aggregates customers' daily activity over periods,
    or no window (rebuild everything) when the events it holds for days outside the window
    differ from int_customer_daily_activity's: a customer with activity outside the window
    was erased since the last run (or an earlier run stopped between the fact and the mart),
    so aggregates outside the window would be stale. `held_events_sql` sums the mart's events
    per day (columns period_start, events; restricted to day rows).
-#}
{% macro aggregate_window(date_column, held_events_sql) %}
    {%- set window = incremental_window(date_column) -%}
    {%- if execute and is_incremental() and (window.start is not none or window.end is not none) -%}
        {%- set check -%}
            select
                (
                    select coalesce(sum(held.events), 0) from ({{ held_events_sql }}) as held
                    where not (true {{ date_window_filter(window, 'held.period_start') }})
                ) = (
                    select coalesce(sum(daily.events), 0)
                    from {{ ref('int_customer_daily_activity') }} as daily
                    where not (true {{ date_window_filter(window, 'daily.activity_date') }})
                )
        {%- endset -%}
        {%- set consistent = run_query(check).columns[0].values()[0] -%}
        {%- if not consistent -%}
            {%- do window.update({"start": none, "end": none, "rebuild": true}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}

{#- Pre-hook of an aggregate mart: delete the periods overlapping the window, or every row without one. -#}
{% macro delete_aggregate_window(window) -%}
    {{ return(adapter.dispatch("delete_aggregate_window")(window)) }}
{%- endmacro %}

{#- Spark overwrites the whole table instead (in_place_strategy). -#}
{% macro spark__delete_aggregate_window(window) -%}
{%- endmacro %}

{% macro default__delete_aggregate_window(window) -%}
    {%- if is_incremental() -%}
        {%- if window.start is not none or window.end is not none -%}
            delete from {{ this }} where {{ period_window_predicate(window) }}
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The window of mart_customer_activity (see aggregate_window). -#}
{% macro customer_activity_window() %}
    {%- set held -%}
        select period_start, events from {{ this }} where {{ adapter.quote("interval") }} = 'day'
    {%- endset -%}
    {{ return(aggregate_window('period_start', held)) }}
{% endmacro %}

{#-
    The incremental strategy of the models whose incremental runs delete or update rows in
    place (append + delete pre-hook, delete+insert on a key read back from the table itself):
    `duckdb_strategy` on DuckDB; on Spark, whose plain Parquet tables can neither DELETE nor
    UPDATE, insert_overwrite of the whole table with a window of everything (see
    spark__incremental_window). They stay incremental models on both engines, so dbt
    selectors and Dagster's asset sets are the same whichever engine runs; they read the
    daily facts, which are incremental by partition on both, never the activity log.
-#}
{% macro in_place_strategy(duckdb_strategy) -%}
    {{ return(adapter.dispatch("in_place_strategy")(duckdb_strategy)) }}
{%- endmacro %}

{% macro default__in_place_strategy(duckdb_strategy) -%}
    {{ return(duckdb_strategy) }}
{%- endmacro %}

{% macro spark__in_place_strategy(duckdb_strategy) -%}
    {{ return("insert_overwrite") }}
{%- endmacro %}

{#- Post-hook of mart_customer_activity: is_complete moves with the high-water mark. -#}
{% macro refresh_is_complete() -%}
    {{ return(adapter.dispatch("refresh_is_complete")()) }}
{%- endmacro %}

{% macro default__refresh_is_complete() -%}
    update {{ this }} set is_complete = {{ period_is_complete(adapter.quote("interval"), "period_start",
        "(select hwm.high_water_mark_local from " ~ ref("int_high_water_mark") ~ " as hwm)") }}
{%- endmacro %}

{#- Spark rebuilds the mart whole (in_place_strategy), computing is_complete in the select. -#}
{% macro spark__refresh_is_complete() -%}
{%- endmacro %}
