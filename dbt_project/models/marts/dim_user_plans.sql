-- Plan history per user (SCD type 2): which plan was in force from valid_from until valid_to.
select
    user_id,
    plan,
    valid_from,
    valid_to,
    is_current
from {{ ref('int_user_plans_versioned') }}
