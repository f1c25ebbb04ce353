{{
    config(
        materialized=incremental_materialization(),
        unique_key='hour_at',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- Hourly events per event name x segment value: where in the population an event-level move sits (an error
-- event rising on one platform only). metric_incidents reads it to tell who an event's incident hits.
-- Incremental runs rebuild only the hours whose per-user state (int_user_hourly_segments) was rewritten since
-- this table was.
with

{% if is_incremental() %}
    changed_hours as (

        select distinct state.event_hour
        from {{ ref('int_user_hourly_segments') }} as state
        where
            state.refreshed_at
            > (select max(existing.refreshed_at) as refreshed_at from {{ this }} as existing)

    ),
{% endif %}

user_hours as (

    select * from {{ ref('int_user_hourly_segments') }}
    {% if is_incremental() %}
        where event_hour in (select changed_hours.event_hour from changed_hours)
    {% endif %}

),

segmented as (

    {% for dim, expr in segment_dimensions() if dim != 'all' %}
        select
            event_hour,
            event_name,
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id,
            events
        from user_hours
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

user_counts as (

    -- one row per user in each hour x event x segment value, so active users are a count(), not a
    -- count(distinct) (cheaper in DuckDB, the same numbers)
    select
        event_hour,
        event_name,
        segment_dim,
        segment_value,
        user_id,
        sum(events) as events
    from segmented
    group by event_hour, event_name, segment_dim, segment_value, user_id

)

select
    event_hour as hour_at,
    event_name,
    segment_dim,
    segment_value,
    cast(sum(events) as bigint) as events,
    cast(count(user_id) as bigint) as active_users,
    (select max(state.refreshed_at) as refreshed_at from {{ ref('int_user_hourly_segments') }} as state)
        as refreshed_at
from user_counts
group by event_hour, event_name, segment_dim, segment_value
