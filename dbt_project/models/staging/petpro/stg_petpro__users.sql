-- Users of every role; erased users are absent from the lake and so from here.
select
    cast(id as string) as user_id,
    cast(role as string) as role,
    cast(is_email_verified as boolean) as is_email_verified,
    cast(active as boolean) as is_active,
    cast(date_of_birth as date) as date_of_birth,
    cast(gender as string) as gender,
    cast(preferred_language as string) as preferred_language,
    cast(last_login as {{ type_timestamptz() }}) as last_login_at,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at,
    cast(deleted_at as {{ type_timestamptz() }}) as deleted_at
from {{ source('petpro', 'users') }}
