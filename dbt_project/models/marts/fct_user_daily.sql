{{
    config(
        materialized=incremental_materialization(),
        unique_key='activity_date',
        incremental_strategy='delete+insert',
    )
}}

-- depends_on: {{ ref('stg_segment__identifies') }}
-- One row per active user-day (keyed by user_id, activity_date) with that day's events, sessions and
-- features. Incremental runs recompute the days touched by newly loaded events, and the days holding a row whose
-- plan the plan history no longer gives (an identify call that arrived late restated it).
with

{% if is_incremental() %}
    reidentified_users as (

        -- users with identify calls loaded since the last run: the only ones whose plan history can have changed
        -- (identify calls are attributed by their own timestamp, so a late one rewrites past periods)
        {{ reidentified_users('loaded_at') }}

    ),

    restated_days as (

        -- days holding a row of theirs whose plan is not the one now in force at its last event
        select distinct existing.activity_date
        from {{ this }} as existing
        inner join reidentified_users
            on existing.user_id = reidentified_users.user_id
        {{ join_plan_in_force('existing', 'last_event_at') }}
        where existing.plan != coalesce(plans.plan, 'unknown')

    ),

    affected as (

        -- the days that got new events, and the day before: a session started then may have grown past midnight
        select distinct event_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)
        union
        select min(event_date) - 1 as event_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)
        union
        select restated_days.activity_date as event_date from restated_days

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

daily as (

    select
        user_id,
        event_date as activity_date,
        count(*) as events,
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
    -- the length of the distinct list, not a count(distinct) beside it: a second distinct aggregate per
    -- user-day costs memory DuckDB's limit does not cover (see the macro sorted_distinct_list)
    {{ list_length('daily.feature_keys') }} as features_used,
    daily.feature_keys,
    daily.first_event_at,
    daily.last_event_at,
    daily.platform,
    coalesce(plans.plan, 'unknown') as plan,
    daily.loaded_at
from daily
left join sessions
    on daily.user_id = sessions.user_id and daily.activity_date = sessions.session_date
{{ join_plan_in_force('daily', 'last_event_at') }}
