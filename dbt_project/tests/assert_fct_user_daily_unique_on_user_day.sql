-- fct_user_daily has one row per (user_id, activity_date).
-- Returns each duplicated key with its number of rows.
select
    user_id,
    activity_date,
    count(*) as occurrences
from {{ ref('fct_user_daily') }}
group by user_id, activity_date
having count(*) > 1
