-- Every user in the plan history has exactly one open period (is_current, valid_to null), so "the current plan"
-- is well defined for dim_users. Returns users with none or several.
select
    user_id,
    count(*) filter (where is_current) as current_periods,
    count(*) filter (where valid_to is null) as open_periods
from {{ ref('dim_user_plans') }}
group by user_id
having
    count(*) filter (where is_current) != 1
    or count(*) filter (where valid_to is null) != 1
