-- Per flag x hour x variant served x event name: the active users and events of the flag's eligible users
-- ('not_exposed' = before the user's first exposure). What a chart of a rollout shows: errors of the users
-- served 'on' against those served 'off', hour by hour, before and after a ramp or a rollback.
with

user_hours as (

    select * from {{ ref('fct_flag_user_hourly') }}

)

select
    flag_key,
    event_hour as hour_at,
    coalesce(variant, 'not_exposed') as variant,
    event_name,
    cast(count(distinct user_id) as bigint) as active_users,
    cast(sum(events) as bigint) as events
from user_hours
group by flag_key, event_hour, coalesce(variant, 'not_exposed'), event_name
