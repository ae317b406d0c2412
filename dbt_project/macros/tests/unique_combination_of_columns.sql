-- noqa: disable=LT02
{#- The combination of columns identifies a row (the model's grain); names are quoted per engine. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = [] -%}
{%- for column in combination_of_columns -%}
    {%- do columns.append(adapter.quote(column)) -%}
{%- endfor %}
    select
        {{ columns | join(", ") }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(", ") }}
    having count(*) > 1
{% endtest %}
