-- Retention rates lie in [0, 1] and retained customers never exceed the cohort.
select
    'mart_cohort_retention' as mart,
    cast(cohort.cohort_month as string) as cohort
from {{ ref('mart_cohort_retention') }} as cohort
where
    cohort.retained_customers > cohort.cohort_size
    or cohort.retained_on_or_after > cohort.cohort_size
    or cohort.retained_customers > cohort.retained_on_or_after
    or cohort.retention_rate not between 0 and 1
    or cohort.rolling_retention_rate not between 0 and 1
union all
select
    'mart_nday_retention' as mart,
    cast(nday.cohort_week as string) as cohort
from {{ ref('mart_nday_retention') }} as nday
where nday.retained_customers > nday.cohort_size or nday.retention_rate not between 0 and 1
union all
select
    'mart_retention_monthly' as mart,
    cast(monthly.month as string) as cohort
from {{ ref('mart_retention_monthly') }} as monthly
where
    monthly.retained_customers > monthly.engaged_customers
    or monthly.retention_rate not between 0 and 1
    or monthly.churn_rate not between 0 and 1
