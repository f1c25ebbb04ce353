-- activity_hourly has one row per (hour_at, segment_dim, segment_value).
-- Returns each duplicated key with its number of rows.
select
    hour_at,
    segment_dim,
    segment_value,
    count(*) as occurrences
from {{ ref('activity_hourly') }}
group by hour_at, segment_dim, segment_value
having count(*) > 1
