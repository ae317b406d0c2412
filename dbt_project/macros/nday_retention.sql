{#-
    The days N of day-N retention (mart_nday_retention), defined once: the fact
    int_customer_signup_day_activity keeps only activities falling on one of these rolling
    24-hour days after signup, and the mart reports exactly these N. Changing the list needs a
    --full-refresh of the fact (its old rows hold only the previous days).
-#}
{% macro nday_retention_days() -%}
    {{ return([1, 7, 14, 30, 60, 90]) }}
{%- endmacro %}

{#- The length of a rolling day in microseconds (24 hours, whatever DST does to the calendar day). -#}
{% macro nday_day_microseconds() -%}
    {{ return(86400000000) }}
{%- endmacro %}
