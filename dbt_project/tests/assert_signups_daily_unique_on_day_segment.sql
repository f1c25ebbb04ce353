-- signups_daily has one row per (signup_date, segment_dim, segment_value).
-- Returns each duplicated key with its number of rows.
select
    signup_date,
    segment_dim,
    segment_value,
    count(*) as occurrences
from {{ ref('signups_daily') }}
group by signup_date, segment_dim, segment_value
having count(*) > 1
