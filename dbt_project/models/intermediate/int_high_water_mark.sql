-- The data's high-water mark: the latest activity timestamp in the lake (by anyone).
-- Complete periods and "as of" figures (ages, 30-day activity) are relative to it.
select
    max(activities.activity_at) as high_water_mark_at,
    max(activities.activity_at_local) as high_water_mark_local,
    cast(max(activities.activity_at_local) as date) as high_water_date
from {{ ref('stg_petpro__activities') }} as activities
