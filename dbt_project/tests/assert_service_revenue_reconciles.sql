-- Revenue in mart_service_usage equals the customers' payments in staging, per currency and
-- payment month (gross = paid + refunded, refunds = refunded).
with staged as (
    select
        {{ month_start('payments.payment_date') }} as month,
        payments.currency,
        sum(payments.amount) filter (where payments.payment_status in ('paid', 'refunded')) as gross_revenue,
        sum(payments.amount) filter (where payments.payment_status = 'refunded') as refunds
    from {{ ref('stg_petpro__payments') }} as payments
    inner join {{ ref('stg_petpro__users') }} as users
        on payments.user_id = users.user_id and users.role = 'customer'
    group by 1, 2
),

mart as (
    select
        usage.month,
        usage.currency,
        sum(usage.gross_revenue) as gross_revenue,
        sum(usage.refunds) as refunds
    from {{ ref('mart_service_usage') }} as usage
    group by 1, 2
)

select
    coalesce(staged.month, mart.month) as month,
    coalesce(staged.currency, mart.currency) as currency,
    staged.gross_revenue as staged_gross,
    mart.gross_revenue as mart_gross,
    staged.refunds as staged_refunds,
    mart.refunds as mart_refunds
from staged
full outer join mart on staged.month = mart.month and staged.currency = mart.currency
where
    coalesce(staged.gross_revenue, 0) != coalesce(mart.gross_revenue, 0)
    or coalesce(staged.refunds, 0) != coalesce(mart.refunds, 0)
