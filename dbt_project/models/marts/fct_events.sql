{{
    config(
        materialized=incremental_materialization(),
        unique_key='message_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per valid, de-duplicated event. Incremental on event time with a lookback window, and on load
-- time, so a late event of any age is still picked up in the run after it lands.
with

events as (

    select * from {{ ref('int_events_deduplicated') }}
    {% if is_incremental() %}
        where
            loaded_at > (select max(existing.loaded_at) as max_loaded_at from {{ this }} as existing)
            or event_at > (
                select max(existing.event_at) - interval '{{ var("late_arrival_lookback_hours") }}' hour as lookback_start_at
                from {{ this }} as existing
            )
    {% endif %}

),

features as (

    select
        feature_key,
        event_name
    from {{ ref('dim_features') }}

)

select
    events.message_id,
    events.user_id,
    events.event_name,
    features.feature_key,
    events.event_at,
    cast(events.event_at as date) as event_date,
    {{ dbt.date_trunc('hour', 'events.event_at') }} as event_hour,
    events.received_at,
    cast({{ seconds_between('events.event_at', 'events.received_at') }} as bigint) as arrival_lag_seconds,
    coalesce(events.platform, 'unknown') as platform,
    coalesce(events.app_version, 'unknown') as app_version,
    coalesce(events.country, 'unknown') as event_country,
    events.properties,
    events.source_name,
    events.loaded_at
from events
left join features
    on events.event_name = features.event_name
