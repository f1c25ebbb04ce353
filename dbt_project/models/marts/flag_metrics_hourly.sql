{{
    config(
        materialized=incremental_materialization(),
        unique_key=['flag_key', 'hour_at'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- Per flag x hour x variant served x event name: the active users and events of the flag's eligible users
-- ('not_exposed' = before the user's first exposure). What a chart of a rollout shows: errors of the users
-- served 'on' against those served 'off', hour by hour, before and after a ramp or a rollback.
-- Incremental runs rebuild only the flag x hours with rows of fct_flag_user_hourly rewritten since this table
-- was, recounting their distinct users from all of that flag x hour's rows.
with

{% if is_incremental() %}
    changed_hours as (

        select distinct
            state.flag_key,
            state.event_hour
        from {{ ref('fct_flag_user_hourly') }} as state
        where
            state.refreshed_at
            > (select max(existing.refreshed_at) as refreshed_at from {{ this }} as existing)

    ),
{% endif %}

user_hours as (

    select user_hours.*
    from {{ ref('fct_flag_user_hourly') }} as user_hours
    {% if is_incremental() %}
        inner join changed_hours
            on user_hours.flag_key = changed_hours.flag_key and user_hours.event_hour = changed_hours.event_hour
    {% endif %}

)

select
    flag_key,
    event_hour as hour_at,
    coalesce(variant, 'not_exposed') as variant,
    event_name,
    cast(count(distinct user_id) as bigint) as active_users,
    cast(sum(events) as bigint) as events,
    (select max(state.refreshed_at) as refreshed_at from {{ ref('fct_flag_user_hourly') }} as state)
        as refreshed_at
from user_hours
group by flag_key, event_hour, coalesce(variant, 'not_exposed'), event_name
