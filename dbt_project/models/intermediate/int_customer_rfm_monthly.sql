-- RFM of every customer at the end of every month (the high-water date for the current,
-- partial month): recency, frequency and monetary value from the collected payments up to
-- that day, quintile scores among the month's buyers, and the named segment. Read by
-- mart_customer_rfm (latest month) and counted by mart_rfm_segments.
--
-- Scores: score = 1 + floor(5 x percent_rank), percent_rank being the share of the month's other
-- buyers with a lower value, capped at 5: quintiles in which ties share a score (frequency has
-- many ties: an exact ntile would split equal customers arbitrarily) and the lowest value
-- always scores 1. Recency is ordered so that the most recent buyers score highest. Monetary value is
-- the spend in the customer's main currency (most payments; ties alphabetical) and is scored
-- among the buyers of that currency only: currencies are never mixed.
{%- set interval = adapter.quote("interval") %}
with hwm as (
    select high_water_date from {{ ref('int_high_water_mark') }}
),

months as (
    select
        spine.period_start as month_start,
        least(cast(spine.period_end - interval 1 day as date), hwm.high_water_date) as as_of_date,
        spine.is_complete
    from {{ ref('int_period_spine') }} as spine
    cross join hwm
    where spine.{{ interval }} = 'month'
),

customer_months as (
    select
        months.month_start,
        months.as_of_date,
        months.is_complete,
        customers.customer_id
    from months
    inner join {{ ref('int_customers') }} as customers on months.as_of_date >= customers.signup_date
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

main_currency as (
    select
        per_currency.month_start,
        per_currency.customer_id,
        per_currency.currency,
        per_currency.amount,
        row_number() over (
            partition by per_currency.month_start, per_currency.customer_id
            order by per_currency.payments desc, per_currency.currency asc
        ) as currency_rank
    from per_currency
),

buyers as (
    select
        per_currency.month_start,
        per_currency.customer_id,
        sum(per_currency.payments) as frequency,
        max(per_currency.last_paid_date) as last_paid_date,
        any_value(main_currency.currency) as currency,
        any_value(main_currency.amount) as monetary
    from per_currency
    inner join main_currency
        on
            per_currency.month_start = main_currency.month_start
            and per_currency.customer_id = main_currency.customer_id
            and main_currency.currency_rank = 1
    group by per_currency.month_start, per_currency.customer_id
),

measured as (
    select
        customer_months.month_start,
        customer_months.as_of_date,
        customer_months.is_complete,
        customer_months.customer_id,
        buyers.customer_id is not null as is_buyer,
        cast(customer_months.as_of_date - buyers.last_paid_date as integer) as recency_days,
        cast(coalesce(buyers.frequency, 0) as bigint) as frequency,
        buyers.currency,
        buyers.monetary
    from customer_months
    left join buyers
        on
            customer_months.month_start = buyers.month_start
            and customer_months.customer_id = buyers.customer_id
),

scored as (
    select
        measured.*,
        case when measured.is_buyer then
                cast(least(5, 1 + floor(5 * percent_rank() over (
                    partition by measured.month_start, measured.is_buyer order by measured.recency_days desc
                ))) as integer)
        end as r_score,
        case when measured.is_buyer then
                cast(least(5, 1 + floor(5 * percent_rank() over (
                    partition by measured.month_start, measured.is_buyer order by measured.frequency
                ))) as integer)
        end as f_score,
        case when measured.is_buyer then
                cast(least(5, 1 + floor(5 * percent_rank() over (
                    partition by measured.month_start, measured.is_buyer, measured.currency order by measured.monetary
                ))) as integer)
        end as m_score
    from measured
)

select
    scored.month_start,
    scored.as_of_date,
    scored.is_complete,
    scored.customer_id,
    scored.recency_days,
    scored.frequency,
    scored.currency,
    scored.monetary,
    scored.r_score,
    scored.f_score,
    scored.m_score,
    case
        when not scored.is_buyer then 'no_purchase'
        when scored.r_score >= 4 and scored.f_score >= 4 and scored.m_score >= 4 then 'champions'
        when scored.r_score >= 3 and scored.f_score >= 4 then 'loyal'
        when scored.r_score >= 4 and scored.frequency = 1 then 'new'
        when scored.r_score >= 4 then 'potential_loyalist'
        when scored.r_score = 3 then 'needs_attention'
        when scored.f_score >= 3 then 'at_risk'
        else 'hibernating'
    end as segment
from scored
