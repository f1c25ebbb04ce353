-- feature_adoption_daily has one row per (activity_date, feature_key).
-- Returns each duplicated key with its number of rows.
select
    activity_date,
    feature_key,
    count(*) as occurrences
from {{ ref('feature_adoption_daily') }}
group by activity_date, feature_key
having count(*) > 1
