{#-
    Nightly runs test what they rebuilt, not the whole history again.

    dbt wraps the model of every generic test in get_where_subquery (dbt's own macro, which
    applies the test's `where` config); this project's version adds the *test window* when
    the run asks for it with `--vars '{test_window: true, late_days: ...}'` and a run window
    (macro window_bound; the nightly and intraday refreshes pass both, see
    orchestration/defs/warehouse.py): a test on a
    model whose `config.meta.test_window` names its date column then reads only the rows
    dated from min_date - late_days on, i.e. exactly the days the incremental models deleted
    and inserted again (macro incremental_window). Without the var or without a window (a
    full rebuild, a `dbt build` by hand) every row is tested, as before.

    Only models whose rows outside the window cannot change are marked: the activity log
    (immutable events, a day per partition), the published activity log (rows are inserted in
    the window only), the delete+insert-by-date facts, and the active
    periods (`periods: true`: the date column holds the start of a day, ISO week or month, and
    every week and month overlapping the window was rebuilt whole, so the tested rows start
    at the earlier of the window start's week and month). A duplicate
    there shares its date with the row it duplicates, so it is inside the window whenever
    one of the two was just written. Relationships tests are never windowed: an erasure can
    orphan an old row, and that must still fail the run.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set window = test_window_condition(relation) -%}
    {%- if window -%}
        {%- do conditions.append(window) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- The window condition for a test on `relation`, or '' when the whole model is tested. -#}
{% macro test_window_condition(relation) -%}
    {%- set min_date = window_bound('min_date') -%}
    {%- if not execute or not var('test_window', false) or min_date is none -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- if ((model.test_metadata or {}).name or '') == 'relationships' -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set found = namespace(spec=none) -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.alias == relation.identifier -%}
            {%- set found.spec = (node.config.meta or {}).get('test_window') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not found.spec -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set start = "(date '" ~ min_date ~ "' - " ~ (var('late_days') | int) ~ ")" -%}
    {%- if found.spec.periods -%}
        {#- Period starts of days, ISO weeks and months: the weeks and months overlapping the
            window were rebuilt whole (delete_period_window), from the earlier of their starts. -#}
        {%- set start = "least(" ~ week_start(start) ~ ", " ~ month_start(start) ~ ")" -%}
    {%- endif -%}
    {%- set condition = found.spec.date_column ~ " >= " ~ start -%}
    {%- if found.spec.partition_column -%}
        {#- The hive partition value, padded a day like activity_window_filter, lets DuckDB skip files. -#}
        {%- set condition = found.spec.partition_column ~ " >= " ~ start ~ " - 1 and " ~ condition -%}
    {%- endif -%}
    {%- do return(condition) -%}
{%- endmacro %}
