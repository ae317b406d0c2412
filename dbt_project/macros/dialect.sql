{#-
    The SQL that differs between DuckDB and Spark, behind adapter.dispatch: models call these
    macros and stay one copy for both engines. default__ is DuckDB (the default engine);
    spark__ is Spark SQL as dbt-spark runs it (ANSI mode off, session time zone UTC).
-#}

{#- A text column parsed as JSON, NULL when it is not valid JSON. -#}
{% macro json_parse(column) -%}
    {{ return(adapter.dispatch("json_parse")(column)) }}
{%- endmacro %}

{% macro default__json_parse(column) -%}
    try_cast({{ column }} as json)
{%- endmacro %}

{#- Spark keeps the text: get_json_object returns NULL for every key of invalid JSON. -#}
{% macro spark__json_parse(column) -%}
    {{ column }}
{%- endmacro %}

{#- The value at a top-level key of a parsed JSON value, as text (NULL when absent or null). -#}
{% macro json_text(json, key) -%}
    {{ return(adapter.dispatch("json_text")(json, key)) }}
{%- endmacro %}

{% macro default__json_text(json, key) -%}
    json_extract_string({{ json }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(json, key) -%}
    get_json_object({{ json }}, '$.{{ key }}')
{%- endmacro %}

{#- True when a text column holds valid JSON. -#}
{% macro json_is_valid(column) -%}
    {{ return(adapter.dispatch("json_is_valid")(column)) }}
{%- endmacro %}

{% macro default__json_is_valid(column) -%}
    (try_cast({{ column }} as json) is not null)
{%- endmacro %}

{% macro spark__json_is_valid(column) -%}
    (get_json_object({{ column }}, '$') is not null)
{%- endmacro %}

{#- A metadata key as text, accepting the application's camelCase and snake_case spellings. -#}
{% macro metadata_text(json_column, camel_key, snake_key) -%}
    nullif(
        coalesce(
            {{ json_text(json_column, camel_key) }},
            {{ json_text(json_column, snake_key) }}
        ),
        ''
    )
{%- endmacro %}

{#- The value of the row with the greatest (order_columns...) tuple of the group. -#}
{% macro arg_max_by(value, order_columns) -%}
    {{ return(adapter.dispatch("arg_max_by")(value, order_columns)) }}
{%- endmacro %}

{% macro default__arg_max_by(value, order_columns) -%}
    arg_max({{ value }}, ({{ order_columns | join(", ") }}))
{%- endmacro %}

{% macro spark__arg_max_by(value, order_columns) -%}
    max_by({{ value }}, struct({{ order_columns | join(", ") }}))
{%- endmacro %}

{#- The value of the row with the least (order_columns...) tuple of the group. -#}
{% macro arg_min_by(value, order_columns) -%}
    {{ return(adapter.dispatch("arg_min_by")(value, order_columns)) }}
{%- endmacro %}

{% macro default__arg_min_by(value, order_columns) -%}
    arg_min({{ value }}, ({{ order_columns | join(", ") }}))
{%- endmacro %}

{% macro spark__arg_min_by(value, order_columns) -%}
    min_by({{ value }}, struct({{ order_columns | join(", ") }}))
{%- endmacro %}

{#- The sorted distinct non-NULL values of a text column of the group, as a list. -#}
{% macro sorted_distinct_list(column) -%}
    {{ return(adapter.dispatch("sorted_distinct_list")(column)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list(column) -%}
    list(distinct {{ column }} order by {{ column }}) filter (where {{ column }} is not null)
{%- endmacro %}

{% macro spark__sorted_distinct_list(column) -%}
    array_sort(collect_set({{ column }}))
{%- endmacro %}

{#- The type of a list of text values. -#}
{% macro type_string_list() -%}
    {{ return(adapter.dispatch("type_string_list")()) }}
{%- endmacro %}

{% macro default__type_string_list() -%}
    varchar[]
{%- endmacro %}

{% macro spark__type_string_list() -%}
    array<string>
{%- endmacro %}

{#- An empty list of text values. -#}
{% macro empty_string_list() -%}
    {{ return(adapter.dispatch("empty_string_list")()) }}
{%- endmacro %}

{% macro default__empty_string_list() -%}
    cast([] as varchar[])
{%- endmacro %}

{% macro spark__empty_string_list() -%}
    cast(array() as array<string>)
{%- endmacro %}

{#- One row per element of a text list, or one row of `default` (a SQL literal) when it is empty. -#}
{% macro unnest_or_default(list_column, default) -%}
    {{ return(adapter.dispatch("unnest_or_default")(list_column, default)) }}
{%- endmacro %}

{% macro default__unnest_or_default(list_column, default) -%}
    unnest(case when len({{ list_column }}) = 0 then [{{ default }}] else {{ list_column }} end)
{%- endmacro %}

{% macro spark__unnest_or_default(list_column, default) -%}
    explode(case when size({{ list_column }}) = 0 then array({{ default }}) else {{ list_column }} end)
{%- endmacro %}

{#-
    Money divided by a count, rounded half away from zero to cents as DECIMAL(18,2), with
    exact integer arithmetic (DuckDB divides decimals as doubles, which rounds 39.995 down).
    NULL when the count is 0. The numerator is a non-negative amount.
-#}
{% macro money_per(amount, count) -%}
    {{ return(adapter.dispatch("money_per")(amount, count)) }}
{%- endmacro %}

{% macro default__money_per(amount, count) -%}
    cast(
        (cast(round(({{ amount }}) * 100) as hugeint) * 2 + nullif({{ count }}, 0))
        // (2 * nullif({{ count }}, 0)) / 100.0
        as decimal(18, 2)
    )
{%- endmacro %}

{#- Spark: the same integer arithmetic in DECIMAL(38, 0), `div` being integer division. -#}
{% macro spark__money_per(amount, count) -%}
    cast(
        (cast(round(({{ amount }}) * 100) as decimal(38, 0)) * 2 + nullif({{ count }}, 0))
        div (2 * nullif({{ count }}, 0)) / 100.0
        as decimal(18, 2)
    )
{%- endmacro %}

{#-
    A compact JSON object text of (key, SQL expression) pairs, keys in the given order, a key
    whose value is NULL left out ('{}' when every value is NULL). Pass numbers as integer or
    double: DuckDB's json_merge_patch prints decimals as doubles anyway (12.5, 100.0), and a
    double prints alike on both engines.
-#}
{% macro json_object_without_nulls(pairs) -%}
    {{ return(adapter.dispatch("json_object_without_nulls")(pairs)) }}
{%- endmacro %}

{% macro default__json_object_without_nulls(pairs) -%}
    json_merge_patch('{}', json_object({{ json_object_arguments(pairs) }}))
{%- endmacro %}

{#- Spark's JSON writer leaves NULL fields out (spark.sql.jsonGenerator.ignoreNullFields). -#}
{% macro spark__json_object_without_nulls(pairs) -%}
    to_json(named_struct({{ json_object_arguments(pairs) }}))
{%- endmacro %}

{#- 'key1', value1, 'key2', value2, ... -#}
{% macro json_object_arguments(pairs) -%}
    {%- for key, value in pairs %}'{{ key }}', {{ value }}{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
