{#- Business-time-zone helpers: every day/week/month bucket goes through these. -#}

{% macro business_tz() -%}
    '{{ var("timezone") }}'
{%- endmacro %}

{#- A TIMESTAMPTZ as wall-clock time (TIMESTAMP) in the business time zone (DST-aware, ICU). -#}
{% macro to_local(column) -%}
    timezone({{ business_tz() }}, {{ column }})
{%- endmacro %}

{#- The business-time-zone calendar date of a TIMESTAMPTZ. -#}
{% macro local_date(column) -%}
    cast(timezone({{ business_tz() }}, {{ column }}) as date)
{%- endmacro %}

{#- Monday of the ISO week / first day of the month of a DATE. -#}
{% macro week_start(date_column) -%}
    cast(date_trunc('week', {{ date_column }}) as date)
{%- endmacro %}

{% macro month_start(date_column) -%}
    cast(date_trunc('month', {{ date_column }}) as date)
{%- endmacro %}

{#- The SQL list literal of the engagement activity types (dbt var). -#}
{% macro engagement_types_sql() -%}
    ({% for t in var("engagement_activity_types") %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- A metadata key as text, accepting the application's camelCase and snake_case spellings. -#}
{% macro metadata_text(json_column, camel_key, snake_key) -%}
    nullif(
        coalesce(
            json_extract_string({{ json_column }}, '$.{{ camel_key }}'),
            json_extract_string({{ json_column }}, '$.{{ snake_key }}')
        ),
        ''
    )
{%- endmacro %}

{#-
    Money divided by a count, rounded half away from zero to cents as DECIMAL(18,2), with
    exact integer arithmetic (DuckDB divides decimals as doubles, which rounds 39.995 down).
    NULL when the count is 0. The numerator is a non-negative amount.
-#}
{% macro money_per(amount, count) -%}
    cast(
        (cast(round(({{ amount }}) * 100) as hugeint) * 2 + nullif({{ count }}, 0))
        // (2 * nullif({{ count }}, 0)) / 100.0
        as decimal(18, 2)
    )
{%- endmacro %}
