select
    cast(id as varchar) as pet_id,
    cast(owner_id as varchar) as owner_id,
    cast(species as varchar) as species,
    cast(breed as varchar) as breed,
    cast(birth_date as date) as birth_date,
    cast(gender as varchar) as gender,
    cast(weight_kg as decimal(18, 2)) as weight_kg,
    cast(created_at as timestamptz) as created_at,
    cast(updated_at as timestamptz) as updated_at,
    cast(deleted_at as timestamptz) as deleted_at,
    deleted_at is not null as is_deleted
from {{ source('petpro', 'pets') }}
