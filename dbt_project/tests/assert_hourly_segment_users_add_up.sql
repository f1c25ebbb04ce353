-- Every active user of an hour has exactly one value of each user-level segment dimension (the plan of the day,
-- the country, the channel), so in activity_hourly those dimensions' active users add up to the hour's total
-- (segment_dim 'all'), and in event_segments_hourly to the event's users (activity_hourly, segment_dim
-- 'event_name'). The hourly marts count user-level dimensions from one row per user-hour, so this fails if a
-- dimension whose value can change within a user's hour is missing from event_level_segment_dimensions() (its
-- users would be counted once per row). Returns the hours (and events) whose counts do not add up.
{%- set event_level = event_level_segment_dimensions() + ['all'] %}
{%- set user_level = segment_dimensions() | rejectattr(0, 'in', event_level) | map(attribute=0) | list %}
{%- set user_level_values = "'" ~ (user_level | join("', '")) ~ "'" %}

with

{% if user_level %}
    hourly_sums as (

        select
            hour_at,
            segment_dim,
            sum(active_users) as active_users
        from {{ ref('activity_hourly') }}
        where segment_dim in ({{ user_level_values }})
        group by hour_at, segment_dim

    ),

    event_sums as (

        select
            hour_at,
            event_name,
            segment_dim,
            sum(active_users) as active_users
        from {{ ref('event_segments_hourly') }}
        where segment_dim in ({{ user_level_values }})
        group by hour_at, event_name, segment_dim

    ),
{% endif %}

hourly_totals as (

    select
        hour_at,
        segment_value as event_name,
        segment_dim,
        active_users
    from {{ ref('activity_hourly') }}
    where segment_dim in ('all', 'event_name')

),

mismatches as (

    {% if user_level %}
        select
            'activity_hourly' as model_name,
            hourly_sums.hour_at,
            cast(null as {{ dbt.type_string() }}) as event_name,
            hourly_sums.segment_dim,
            hourly_sums.active_users,
            totals.active_users as expected_active_users
        from hourly_sums
        left join hourly_totals as totals
            on hourly_sums.hour_at = totals.hour_at and totals.segment_dim = 'all'
        where hourly_sums.active_users is distinct from totals.active_users

        union all

        select
            'event_segments_hourly' as model_name,
            event_sums.hour_at,
            event_sums.event_name,
            event_sums.segment_dim,
            event_sums.active_users,
            totals.active_users as expected_active_users
        from event_sums
        left join hourly_totals as totals
            on
                event_sums.hour_at = totals.hour_at
                and event_sums.event_name = totals.event_name
                and totals.segment_dim = 'event_name'
        where event_sums.active_users is distinct from totals.active_users
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as model_name,
            cast(null as timestamp) as hour_at,
            cast(null as {{ dbt.type_string() }}) as event_name,
            cast(null as {{ dbt.type_string() }}) as segment_dim,
            cast(null as bigint) as active_users,
            cast(null as bigint) as expected_active_users
        from hourly_totals
        where false
    {% endif %}

)

select * from mismatches
