-- The data's high-water mark: the latest activity timestamp in the lake (by anyone).
-- Complete periods and "as of" figures (ages, 30-day activity) are relative to it. A young
-- source with no activity yet falls back to the latest signup, so the marts still build.
with latest as (
    select
        coalesce(
            (select max(activities.activity_at) from {{ ref('stg_petpro__activities') }} as activities),
            (select max(users.created_at) from {{ ref('stg_petpro__users') }} as users)
        ) as high_water_mark_at
)

select
    latest.high_water_mark_at,
    {{ to_local('latest.high_water_mark_at') }} as high_water_mark_local,
    cast({{ to_local('latest.high_water_mark_at') }} as date) as high_water_date
from latest
