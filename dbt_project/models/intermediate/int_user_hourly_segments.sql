{{
    config(
        materialized=incremental_materialization(),
        unique_key=['user_id', 'event_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- Valid events per user x hour x event name x platform, with the segment values the hourly marts cut them by
-- (the plan of the user-day, the user's country and channel). The state that lets activity_hourly and
-- event_segments_hourly recompute only the hours that changed and still count distinct users exactly.
-- Incremental runs rewrite whole user-days: those with newly loaded events (late ones included) and those
-- whose plan, country or channel is no longer what was written (dim_users is rebuilt whole each run).
with

{% if is_incremental() %}
    new_user_days as (

        select distinct
            user_id,
            event_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)

    ),

    resegmented_user_days as (

        select distinct
            existing.user_id,
            existing.event_date
        from {{ this }} as existing
        left join {{ ref('dim_users') }} as users
            on existing.user_id = users.user_id
        left join {{ ref('fct_user_daily') }} as user_daily
            on existing.user_id = user_daily.user_id and existing.event_date = user_daily.activity_date
        where
            users.user_id is null
            or existing.country != users.country
            or existing.signup_channel != users.signup_channel
            or existing.plan != coalesce(user_daily.plan, 'unknown')

    ),

    affected_user_days as (

        select * from new_user_days
        union
        select * from resegmented_user_days

    ),
{% endif %}

events as (

    select
        events.user_id,
        events.event_date,
        events.event_hour,
        events.event_name,
        events.platform,
        events.loaded_at
    from {{ ref('fct_events') }} as events
    {% if is_incremental() %}
        inner join affected_user_days
            on events.user_id = affected_user_days.user_id and events.event_date = affected_user_days.event_date
    {% endif %}

)

select
    events.user_id,
    events.event_date,
    events.event_hour,
    events.event_name,
    events.platform,
    coalesce(user_daily.plan, 'unknown') as plan,
    users.country,
    users.signup_channel,
    cast(count(*) as bigint) as events,
    max(events.loaded_at) as loaded_at,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as refreshed_at
from events
inner join {{ ref('dim_users') }} as users
    on events.user_id = users.user_id
left join {{ ref('fct_user_daily') }} as user_daily
    on events.user_id = user_daily.user_id and events.event_date = user_daily.activity_date
group by
    events.user_id,
    events.event_date,
    events.event_hour,
    events.event_name,
    events.platform,
    coalesce(user_daily.plan, 'unknown'),
    users.country,
    users.signup_channel
