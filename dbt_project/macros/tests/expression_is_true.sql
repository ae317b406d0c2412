-- noqa: disable=LT02
{#- Rows where the expression is false (or NULL when the column is tested) fail. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
select *
from {{ model }}
where
    not coalesce({% if column_name %}{{ column_name }} {% endif %}{{ expression }}, false)
    {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
