{{
    config(
        materialized=incremental_materialization(),
        unique_key='activity_date',
        incremental_strategy='delete+insert',
    )
}}

-- One row per active user-day (keyed by user_id, activity_date) with that day's events, sessions and
-- features. Incremental runs recompute only the days touched by newly loaded events.
with

{% if is_incremental() %}
    affected as (

        -- the days that got new events, and the day before: a session started then may have grown past midnight
        select distinct event_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)
        union
        select min(event_date) - 1 as event_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)

    ),
{% endif %}

events as (

    select * from {{ ref('fct_events') }}
    {% if is_incremental() %}
        where event_date in (select affected.event_date from affected)
    {% endif %}

),

sessions as (

    select
        user_id,
        session_date,
        count(*) as sessions,
        sum(duration_seconds) as session_seconds
    from {{ ref('fct_sessions') }}
    {% if is_incremental() %}
        where session_date in (select affected.event_date from affected)
    {% endif %}
    group by user_id, session_date

),

plans as (

    select * from {{ ref('int_user_plans_versioned') }}

),

daily as (

    select
        user_id,
        event_date as activity_date,
        count(*) as events,
        count(distinct feature_key) as features_used,
        {{ sorted_distinct_list('feature_key') }} as feature_keys,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        mode(platform) as platform,
        max(loaded_at) as loaded_at
    from events
    group by user_id, event_date

)

select
    daily.user_id,
    daily.activity_date,
    daily.events,
    coalesce(sessions.sessions, 0) as sessions,
    coalesce(sessions.session_seconds, 0) as session_seconds,
    daily.features_used,
    daily.feature_keys,
    daily.first_event_at,
    daily.last_event_at,
    daily.platform,
    coalesce(plans.plan, 'unknown') as plan,
    daily.loaded_at
from daily
left join sessions
    on daily.user_id = sessions.user_id and daily.activity_date = sessions.session_date
left join plans
    on
        daily.user_id = plans.user_id
        and daily.last_event_at >= plans.valid_from
        and daily.last_event_at < {{ period_end('plans.valid_to') }}
