-- The months month-to-month retention is reported for: complete months whose next month is
-- complete too (docs/metrics.md, mart_retention_monthly), with the start of that next month.
{%- set interval = adapter.quote("interval") %}
select
    periods.period_start as month,
    periods.period_end as next_month
from {{ ref('int_period_spine') }} as periods
inner join {{ ref('int_period_spine') }} as next_periods
    on next_periods.{{ interval }} = 'month' and periods.period_end = next_periods.period_start
where periods.{{ interval }} = 'month' and periods.is_complete and next_periods.is_complete
