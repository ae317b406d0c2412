-- One row per customer and month for the customers with a collected payment by the month's
-- as-of day (the month end, or the high-water date for the current month): recency, frequency
-- and monetary value in the main currency (most payments; ties alphabetical). Scored by
-- int_customer_rfm_monthly. A table of its own, not a CTE there, because the scores read it
-- four times: DuckDB keeps a CTE read more than once in memory, where a table's pages can be
-- evicted (docs/warehouse.md, "RFM scores from counts").
with months as (
    {{ rfm_months() }}
),

per_currency as (
    select
        months.month_start,
        transactions.customer_id,
        transactions.currency,
        count(*) as payments,
        sum(transactions.amount) as amount,
        max(transactions.paid_date) as last_paid_date
    from months
    inner join {{ ref('mart_customer_transactions') }} as transactions
        on months.as_of_date >= transactions.paid_date
    group by months.month_start, transactions.customer_id, transactions.currency
),

-- The main currency is the one of most payments, ties alphabetical: the least (-payments,
-- currency). One aggregate rather than a row_number() window joined back to per_currency,
-- which made DuckDB hold per_currency in memory for its two readers.
{%- set main_currency = ['-per_currency.payments', 'per_currency.currency'] %}
buyers as (
    select
        per_currency.month_start,
        per_currency.customer_id,
        sum(per_currency.payments) as frequency,
        max(per_currency.last_paid_date) as last_paid_date,
        {{ arg_min_by('per_currency.currency', main_currency) }} as currency,
        {{ arg_min_by('per_currency.amount', main_currency) }} as monetary
    from per_currency
    group by per_currency.month_start, per_currency.customer_id
)

select
    buyers.month_start,
    buyers.customer_id,
    cast(months.as_of_date - buyers.last_paid_date as integer) as recency_days,
    cast(buyers.frequency as bigint) as frequency,
    buyers.currency,
    buyers.monetary
from buyers
inner join months on buyers.month_start = months.month_start
