-- dim_user_plans has one row per (user_id, valid_from).
-- Returns each duplicated key with its number of rows.
select
    user_id,
    valid_from,
    count(*) as occurrences
from {{ ref('dim_user_plans') }}
group by user_id, valid_from
having count(*) > 1
