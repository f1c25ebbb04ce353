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

{%- set event_level = event_level_segment_dimensions() %}
{%- set dimensions = segment_dimensions() | rejectattr(0, 'equalto', 'all') | list %}
{%- set user_level = dimensions | rejectattr(0, 'in', event_level) | list %}

user_events as (

    -- one row per user x hour x event name with the user-day's segment values (a user's events from two
    -- platforms in one hour merged), so the distinct users of a user-level dimension are a count() of rows
    select
        event_hour,
        event_name,
        user_id,
        {% for dim, expr in user_level %}
            cast({{ expr }} as {{ dbt.type_string() }}) as {{ dim }}_value,
        {% endfor %}
        sum(events) as events
    from user_hours
    group by
        {% for dim, expr in user_level %}
            {{ dim }}_value,
        {% endfor %}
        event_hour,
        event_name,
        user_id

),

event_level_users as (

    -- an event-level dimension (platform) can put one user's events of an hour under several values: one row
    -- per user in each hour x event x value, so its distinct users are a count() as well
    {% for dim, expr in dimensions if dim in event_level %}
        select
            event_hour,
            event_name,
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id,
            sum(events) as events
        from user_hours
        group by event_hour, event_name, {{ expr }}, user_id
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as timestamp) as event_hour,
            cast(null as {{ dbt.type_string() }}) as event_name,
            cast(null as {{ dbt.type_string() }}) as segment_dim,
            cast(null as {{ dbt.type_string() }}) as segment_value,
            cast(null as {{ dbt.type_string() }}) as user_id,
            cast(null as bigint) as events
        where false
    {% endfor %}

),

counts as (

    {% for dim, expr in user_level %}
        select
            event_hour,
            event_name,
            '{{ dim }}' as segment_dim,
            {{ dim }}_value as segment_value,
            sum(events) as events,
            count(*) as active_users
        from user_events
        group by event_hour, event_name, {{ dim }}_value
        union all
    {% endfor %}
    select
        event_hour,
        event_name,
        segment_dim,
        segment_value,
        sum(events) as events,
        count(*) as active_users
    from event_level_users
    group by event_hour, event_name, segment_dim, segment_value

)

select
    event_hour as hour_at,
    event_name,
    segment_dim,
    segment_value,
    cast(events as bigint) as events,
    cast(active_users as bigint) as active_users,
    (select max(state.refreshed_at) as refreshed_at from {{ ref('int_user_hourly_segments') }} as state)
        as refreshed_at
from counts
