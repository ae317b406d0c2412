-- noqa: disable=LT02
{#-
    The activity-date window an incremental model (re)builds, as SQL date literals.

    - `--vars '{min_date: 2024-06-01, max_date: 2024-06-03}'`: [min_date - late_days, max_date];
    - incremental run without vars: [max(activity_date) already in the table - late_days, open];
    - first build or --full-refresh: no window (everything).
    Returns a dict {start: 'date literal' | none, end: 'date literal' | none}; computed at
    compile time so that the hive partition filter is a constant DuckDB can prune on.
-#}
{% macro incremental_window(date_column="activity_date") %}
    {%- set late_days = var("late_days") | int -%}
    {%- set window = {"start": none, "end": none} -%}
    {%- if is_incremental() -%}
        {%- if var("min_date", none) is not none -%}
            {%- do window.update({"start": "(date '" ~ var("min_date") ~ "' - " ~ late_days ~ ")"}) -%}
        {%- elif execute -%}
            {%- set result = run_query("select max(" ~ date_column ~ ") from " ~ this) -%}
            {%- set latest = result.columns[0].values()[0] -%}
            {%- if latest is not none -%}
                {%- do window.update({"start": "(date '" ~ latest ~ "' - " ~ late_days ~ ")"}) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if var("max_date", none) is not none -%}
            {%- do window.update({"end": "date '" ~ var("max_date") ~ "'"}) -%}
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

{#- Delete the incremental window before inserting it again (so days that lost every row are emptied too). -#}
{% macro delete_incremental_window(date_column="activity_date") -%}
    {%- if is_incremental() -%}
        {%- set window = incremental_window(date_column) -%}
        {%- if window.start is not none or window.end is not none -%}
            delete from {{ this }} where true
            {%- if window.start is not none %} and {{ date_column }} >= {{ window.start }}{% endif %}
            {%- if window.end is not none %} and {{ date_column }} <= {{ window.end }}{% endif %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Drop rows of customers that no longer exist (privacy erasure) or are no longer customers. -#}
{% macro delete_erased_customers(customer_column="customer_id") -%}
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
{% macro period_window_predicate(window, interval_column='"interval"', start_column="period_start") -%}
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
        select period_start, events from {{ this }} where "interval" = 'day'
    {%- endset -%}
    {{ return(aggregate_window('period_start', held)) }}
{% endmacro %}
