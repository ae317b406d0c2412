-- Payments with their current status. The payment time is when the money moved (paid_at),
-- falling back to the creation time for payments never collected.
select
    cast(id as string) as payment_id,
    cast(booking_id as string) as booking_id,
    cast(user_id as string) as user_id,
    cast(amount as decimal(18, 2)) as amount,
    upper(trim(currency)) as currency,
    cast(status as string) as payment_status,
    cast(method as string) as payment_method,
    cast(paid_at as {{ type_timestamptz() }}) as paid_at,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at,
    cast(coalesce(paid_at, created_at) as {{ type_timestamptz() }}) as payment_at,
    {{ local_date('coalesce(paid_at, created_at)') }} as payment_date
from {{ source('petpro', 'payments') }}
