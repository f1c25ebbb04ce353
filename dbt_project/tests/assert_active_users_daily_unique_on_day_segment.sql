-- active_users_daily has one row per (activity_date, segment_dim, segment_value).
-- Returns each duplicated key with its number of rows.
select
    activity_date,
    segment_dim,
    segment_value,
    count(*) as occurrences
from {{ ref('active_users_daily') }}
group by activity_date, segment_dim, segment_value
having count(*) > 1
