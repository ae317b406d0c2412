{#-
    The months RFM is computed at, for int_customer_rfm_buyers and int_customer_rfm_monthly:
    each month's start, its as-of day (the month's last day, or the high-water date for the
    current, partial month) and whether it is complete. A query, used as a CTE's body.
-#}
{% macro rfm_months() -%}
    {%- set interval = adapter.quote("interval") -%}
    select
        spine.period_start as month_start,
        least(cast(spine.period_end - interval 1 day as date), hwm.high_water_date) as as_of_date,
        spine.is_complete
    from {{ ref('int_period_spine') }} as spine
    cross join {{ ref('int_high_water_mark') }} as hwm
    where spine.{{ interval }} = 'month'
{%- endmacro %}
