-- Plan history as validity intervals (SCD type 2), one row per plan period, from identify traits.
with

identifies as (

    select
        user_id,
        identified_at,
        plan
    from {{ ref('stg_segment__identifies') }}
    where plan is not null

),

changes as (

    select
        user_id,
        identified_at,
        plan,
        lag(plan) over (partition by user_id order by identified_at) as previous_plan
    from identifies

),

periods as (

    select
        user_id,
        plan,
        identified_at as valid_from,
        lead(identified_at) over (partition by user_id order by identified_at) as valid_to
    from changes
    where previous_plan is null or previous_plan != plan

)

select
    user_id,
    plan,
    valid_from,
    valid_to,
    valid_to is null as is_current
from periods
