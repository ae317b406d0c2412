-- Customers' reviews per creation date (business time zone), any status: how many and the
-- sum of their ratings (so averages over longer periods weight every review once).
select
    {{ local_date('reviews.created_at') }} as review_date,
    count(*) as reviews,
    sum(reviews.rating) as rating_sum
from {{ ref('stg_petpro__reviews') }} as reviews
inner join {{ ref('int_customers') }} as customers on reviews.user_id = customers.customer_id
group by 1
