-- RFM of every customer at the end of every month (the high-water date for the current,
-- partial month): recency, frequency and monetary value from the collected payments up to
-- that day (int_customer_rfm_buyers), quintile scores among the month's buyers, and the named
-- segment. Read by
-- mart_customer_rfm (latest month) and counted by mart_rfm_segments.
--
-- Scores: score = 1 + floor(5 x percent_rank), percent_rank being the share of the month's other
-- buyers with a lower value, capped at 5: quintiles in which ties share a score (frequency has
-- many ties: an exact ntile would split equal customers arbitrarily) and the lowest value
-- always scores 1. Recency is ordered so that the most recent buyers score highest. Monetary value is
-- the spend in the customer's main currency (most payments; ties alphabetical) and is scored
-- among the buyers of that currency only: currencies are never mixed.
with months as (
    {{ rfm_months() }}
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

buyer_values as (
    select * from {{ ref('int_customer_rfm_buyers') }}
),

-- The scores come from counts per distinct value (macro percent_rank_score), not from three
-- percent_rank() windows over every customer-month: at 320,000 customers those windows needed
-- between 384 and 512 MB of DuckDB's pool, so at the 512MB default a model running beside
-- this one could make both run out of memory (docs/warehouse.md, "RFM scores from counts").
recency_scores as (
    select
        recency_values.month_start,
        recency_values.recency_days,
        {{ percent_rank_score(
            'recency_values.buyers', 'recency_values.month_start', 'recency_values.recency_days desc'
        ) }} as r_score
    from (
        select
            buyer_values.month_start,
            buyer_values.recency_days,
            count(*) as buyers
        from buyer_values
        group by buyer_values.month_start, buyer_values.recency_days
    ) as recency_values
),

frequency_scores as (
    select
        frequency_values.month_start,
        frequency_values.frequency,
        {{ percent_rank_score(
            'frequency_values.buyers', 'frequency_values.month_start', 'frequency_values.frequency'
        ) }} as f_score
    from (
        select
            buyer_values.month_start,
            buyer_values.frequency,
            count(*) as buyers
        from buyer_values
        group by buyer_values.month_start, buyer_values.frequency
    ) as frequency_values
),

monetary_scores as (
    select
        monetary_values.month_start,
        monetary_values.currency,
        monetary_values.monetary,
        {{ percent_rank_score(
            'monetary_values.buyers',
            'monetary_values.month_start, monetary_values.currency',
            'monetary_values.monetary'
        ) }} as m_score
    from (
        select
            buyer_values.month_start,
            buyer_values.currency,
            buyer_values.monetary,
            count(*) as buyers
        from buyer_values
        group by buyer_values.month_start, buyer_values.currency, buyer_values.monetary
    ) as monetary_values
),

buyer_scores as (
    select
        buyer_values.*,
        recency_scores.r_score,
        frequency_scores.f_score,
        monetary_scores.m_score
    from buyer_values
    inner join recency_scores
        on
            buyer_values.month_start = recency_scores.month_start
            and buyer_values.recency_days is not distinct from recency_scores.recency_days
    inner join frequency_scores
        on
            buyer_values.month_start = frequency_scores.month_start
            and buyer_values.frequency = frequency_scores.frequency
    inner join monetary_scores
        on
            buyer_values.month_start = monetary_scores.month_start
            and buyer_values.currency is not distinct from monetary_scores.currency
            and buyer_values.monetary is not distinct from monetary_scores.monetary
),

scored as (
    select
        customer_months.month_start,
        customer_months.as_of_date,
        customer_months.is_complete,
        customer_months.customer_id,
        buyer_scores.customer_id is not null as is_buyer,
        buyer_scores.recency_days,
        coalesce(buyer_scores.frequency, 0) as frequency,
        buyer_scores.currency,
        buyer_scores.monetary,
        buyer_scores.r_score,
        buyer_scores.f_score,
        buyer_scores.m_score
    from customer_months
    left join buyer_scores
        on
            customer_months.month_start = buyer_scores.month_start
            and customer_months.customer_id = buyer_scores.customer_id
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
