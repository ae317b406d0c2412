-- noqa: disable=LT02
{#- Values outside [min_value, max_value] fail (NULLs are left to not_null). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select {{ column_name }} as value_out_of_range
from {{ model }}
where
    {{ column_name }} is not null
    and (
        false
        {%- if min_value is not none %}
            or {{ column_name }} {{ "<" if inclusive else "<=" }} {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
            or {{ column_name }} {{ ">" if inclusive else ">=" }} {{ max_value }}
        {%- endif %}
    )
{% endtest %}
