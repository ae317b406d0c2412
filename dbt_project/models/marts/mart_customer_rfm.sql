-- RFM of every customer as of the high-water date (the latest month of int_customer_rfm_monthly).
select
    cast(rfm.customer_id as string) as customer_id,
    cast(rfm.as_of_date as date) as as_of_date,
    cast(rfm.recency_days as integer) as recency_days,
    cast(rfm.frequency as bigint) as frequency,
    cast(rfm.currency as string) as currency,
    cast(rfm.monetary as decimal(18, 2)) as monetary,
    cast(rfm.r_score as integer) as r_score,
    cast(rfm.f_score as integer) as f_score,
    cast(rfm.m_score as integer) as m_score,
    cast(case when rfm.r_score is not null then concat(rfm.r_score, rfm.f_score, rfm.m_score) end as string)
        as rfm_cell,
    cast(rfm.segment as string) as segment
from {{ ref('int_customer_rfm_monthly') }} as rfm
where rfm.month_start = (select max(months.month_start) from {{ ref('int_customer_rfm_monthly') }} as months)
