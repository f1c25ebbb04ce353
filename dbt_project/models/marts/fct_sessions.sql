{{
    config(
        materialized=incremental_materialization(),
        unique_key='session_date',
        incremental_strategy='delete+insert',
    )
}}

-- Sessions: a user's events with gaps of at most var('session_timeout_minutes') minutes between them.
-- Incremental runs rebuild sessions starting on or after the day before the earliest day touched by newly
-- loaded events (reading one more day back), so a session that started before midnight and grew past it is
-- rebuilt whole rather than split.
with

{% if is_incremental() %}
    affected as (

        select min(event_date) as first_affected_date
        from {{ ref('fct_events') }}
        where loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)

    ),
{% endif %}

events as (

    select
        user_id,
        event_at,
        platform,
        feature_key,
        loaded_at
    from {{ ref('fct_events') }}
    {% if is_incremental() %}
        where event_date >= (select affected.first_affected_date - 2 as lookback_date from affected)
    {% endif %}

),

gaps as (

    -- ordered on event_at alone: of events at the same instant only the first in this order can start a session
    -- (the others' gap is zero), and the running sum below counts all of an instant's rows at once (a range
    -- frame), so every tied row lands in the same session whatever order either window gives ties. A tie-break
    -- key (message_id was one) would only widen both sorts.
    select
        *,
        lag(event_at) over (partition by user_id order by event_at) as previous_event_at
    from events

),

flagged as (

    select
        *,
        case
            when
                previous_event_at is null
                or event_at > previous_event_at + interval '{{ var("session_timeout_minutes") }}' minute
                then 1
            else 0
        end as is_session_start
    from gaps

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by user_id order by event_at range between unbounded preceding and current row
        ) as session_number
    from flagged

),

sessions as (

    select
        user_id,
        session_number,
        min(event_at) as session_start_at,
        max(event_at) as session_end_at,
        count(*) as events,
        count(distinct feature_key) as features_used,
        mode(platform) as platform,
        max(loaded_at) as loaded_at
    from numbered
    group by user_id, session_number

)

select
    md5(user_id || '|' || cast(session_start_at as {{ dbt.type_string() }})) as session_id,
    user_id,
    session_start_at,
    session_end_at,
    cast(session_start_at as date) as session_date,
    cast({{ seconds_between('session_start_at', 'session_end_at') }} as bigint) as duration_seconds,
    events,
    features_used,
    platform,
    loaded_at
from sessions
{% if is_incremental() %}
    where cast(session_start_at as date) >= (select affected.first_affected_date - 1 as rebuilt_from from affected)
{% endif %}
