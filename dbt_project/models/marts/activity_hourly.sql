{{
    config(
        materialized=incremental_materialization(),
        unique_key='hour_at',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- Hourly activity per segment value: active users, events and signups. The grain anomaly detection watches.
-- Incremental runs rebuild only the hours whose per-user state (int_user_hourly_segments) was rewritten since
-- this table was, the hours past its old ends, or every hour when the set of segment values changed (each
-- hour has a row for every value ever seen).
with

user_hours as (

    select * from {{ ref('int_user_hourly_segments') }}

),

segments as (

    -- every segment value ever seen (per column: cheaper than a distinct over the segmented rows)
    {% for dim, expr in segment_dimensions() + [('event_name', 'event_name')] %}
        select distinct
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value
        from user_hours
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

hour_series as (

    select {{ series('min(event_hour)', 'max(event_hour)', "interval '1' hour") }} as hour_at
    from user_hours

),

{% if is_incremental() %}
    previous as (

        select
            min(existing.hour_at) as first_hour,
            max(existing.hour_at) as last_hour,
            max(existing.refreshed_at) as refreshed_at
        from {{ this }} as existing

    ),

    segment_changes as (

        select count(*) as changed
        from (
            (
                select
                    segments.segment_dim,
                    segments.segment_value
                from segments
                except
                select distinct
                    existing.segment_dim,
                    existing.segment_value
                from {{ this }} as existing
            )
            union all
            (
                select distinct
                    existing.segment_dim,
                    existing.segment_value
                from {{ this }} as existing
                except
                select
                    segments.segment_dim,
                    segments.segment_value
                from segments
            )
        ) as differences

    ),

    changed_hours as (

        select distinct user_hours.event_hour
        from user_hours
        where user_hours.refreshed_at > (select previous.refreshed_at from previous)

    ),
{% endif %}

hours as (

    select cast(hour_series.hour_at as timestamp) as hour_at
    from hour_series
    {% if is_incremental() %}
        cross join previous
        where
            (select segment_changes.changed from segment_changes) > 0
            or cast(hour_series.hour_at as timestamp) in (select changed_hours.event_hour from changed_hours)
            or cast(hour_series.hour_at as timestamp) > previous.last_hour
            or cast(hour_series.hour_at as timestamp) < previous.first_hour
    {% endif %}

),

{%- set event_level = event_level_segment_dimensions() + ['event_name'] %}
{%- set user_level = segment_dimensions() | rejectattr(0, 'in', event_level) | list %}
{%- set by_event = (segment_dimensions() + [('event_name', 'event_name')]) | selectattr(0, 'in', event_level) | list %}

hour_rows as (

    select * from user_hours
    {% if is_incremental() %}
        where user_hours.event_hour in (select hours.hour_at from hours)
    {% endif %}

),

user_activity as (

    -- one row per user-hour with the user-day's segment values (the user's events of the hour merged across event
    -- names and platforms): the distinct users of a user-level dimension are then a count() of rows, not a
    -- count(distinct) per group (which costs DuckDB about a third more), nor a de-duplication per segment value
    select
        event_hour,
        user_id,
        {% for dim, expr in user_level %}
            cast({{ expr }} as {{ dbt.type_string() }}) as {{ dim }}_value,
        {% endfor %}
        sum(events) as events,
        max(case when event_name = 'signed_up' then 1 else 0 end) as signed_up
    from hour_rows
    group by
        {% for dim, expr in user_level %}
            {{ dim }}_value,
        {% endfor %}
        event_hour,
        user_id

),

event_level_users as (

    -- the event name and an event-level dimension (platform) can put one user's hour under several values: one
    -- row per user in each hour x value, so their distinct users are a count() as well
    {% for dim, expr in by_event %}
        select
            event_hour,
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id,
            sum(events) as events,
            max(case when event_name = 'signed_up' then 1 else 0 end) as signed_up
        from hour_rows
        group by event_hour, {{ expr }}, user_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

counts as (

    {% for dim, expr in user_level %}
        select
            event_hour,
            '{{ dim }}' as segment_dim,
            {{ dim }}_value as segment_value,
            count(*) as active_users,
            sum(events) as events,
            sum(signed_up) as signups
        from user_activity
        group by event_hour, {{ dim }}_value
        union all
    {% endfor %}
    select
        event_hour,
        segment_dim,
        segment_value,
        count(*) as active_users,
        sum(events) as events,
        sum(signed_up) as signups
    from event_level_users
    group by event_hour, segment_dim, segment_value

)

select
    hours.hour_at,
    segments.segment_dim,
    segments.segment_value,
    cast(coalesce(counts.active_users, 0) as bigint) as active_users,
    cast(coalesce(counts.events, 0) as bigint) as events,
    cast(coalesce(counts.signups, 0) as bigint) as signups,
    (select max(state.refreshed_at) as refreshed_at from user_hours as state) as refreshed_at
from hours
cross join segments
left join counts
    on
        hours.hour_at = counts.event_hour
        and segments.segment_dim = counts.segment_dim
        and segments.segment_value = counts.segment_value
