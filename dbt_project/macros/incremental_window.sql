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
