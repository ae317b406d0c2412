{#-
    The formulas of docs/metrics.md, written once. The marts call these macros, and the analytics
    API renders this same file (serving/formulas.py, plain Jinja) for its answers under
    segment filters, which no mart can hold precomputed for every combination of segments:
    the API counts customers of the customer-level marts and combines the counts only
    through these macros. Keep every macro a pure SQL expression of its arguments (no ref(),
    var(), adapter or other dbt context), so that plain Jinja renders it too.
-#}

{#- Rolling windows of mart_active_users: WAU and MAU count the N days ending on the date. -#}
{% macro wau_days() -%}
    7
{%- endmacro %}

{% macro mau_days() -%}
    30
{%- endmacro %}

{#- numerator / denominator; NULL when the denominator is 0 (rates are fractions in [0, 1]). -#}
{% macro ratio(numerator, denominator) -%}
    {{ numerator }} / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Growth: change of new customers over the previous period's; NULL when it had none. -#}
{% macro growth_rate(current, previous) -%}
    ({{ current }} - {{ previous }}) / nullif({{ previous }}, 0)
{%- endmacro %}

{#- Cumulative customers: the running total of new customers up to and including the period. -#}
{% macro cumulative(value, order_by, partition_by=none) -%}
    {%- set partition = "partition by " ~ partition_by ~ " " if partition_by else "" -%}
    sum({{ value }}) over ({{ partition }}order by {{ order_by }} rows between unbounded preceding and current row)
{%- endmacro %}

{#- The value of the previous period (NULL for the first one). -#}
{% macro previous_period(value, order_by, partition_by=none) -%}
    {%- set partition = "partition by " ~ partition_by ~ " " if partition_by else "" -%}
    lag({{ value }}) over ({{ partition }}order by {{ order_by }})
{%- endmacro %}

{% macro stickiness(dau, mau) -%}
    {{ ratio(dau, mau) }}
{%- endmacro %}

{% macro retention_rate(retained, engaged) -%}
    {{ ratio(retained, engaged) }}
{%- endmacro %}

{% macro churn_rate(retained, engaged) -%}
    1 - {{ ratio(retained, engaged) }}
{%- endmacro %}

{% macro share_of_customers(customers, all_customers) -%}
    {{ ratio(customers, all_customers) }}
{%- endmacro %}
