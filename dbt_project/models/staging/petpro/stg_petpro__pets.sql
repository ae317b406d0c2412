select
    cast(id as string) as pet_id,
    cast(owner_id as string) as owner_id,
    cast(species as string) as species,
    cast(breed as string) as breed,
    cast(birth_date as date) as birth_date,
    cast(gender as string) as gender,
    cast(weight_kg as decimal(18, 2)) as weight_kg,
    cast(created_at as {{ type_timestamptz() }}) as created_at,
    cast(updated_at as {{ type_timestamptz() }}) as updated_at,
    cast(deleted_at as {{ type_timestamptz() }}) as deleted_at,
    deleted_at is not null as is_deleted
from {{ source('petpro', 'pets') }}
