-- Customers per RFM segment at the end of every month (the high-water date for the current,
-- partial month, is_complete = false). Counted from the per-customer rows, so the segments of
-- a month add up to its customers.
select
    cast(rfm.month_start as date) as month_start,
    cast(rfm.as_of_date as date) as as_of_date,
    cast(rfm.is_complete as boolean) as is_complete,
    cast(rfm.segment as string) as segment,
    cast(count(*) as bigint) as customers,
    cast(count(*) / sum(count(*)) over (partition by rfm.month_start) as double) as share_of_customers
from {{ ref('int_customer_rfm_monthly') }} as rfm
group by rfm.month_start, rfm.as_of_date, rfm.is_complete, rfm.segment
