-- Hourly activity per segment value: active users, events and signups. The grain anomaly detection watches.
with

events as (

    select
        events.event_hour,
        events.user_id,
        events.event_name,
        events.platform,
        coalesce(user_daily.plan, 'unknown') as plan,
        users.country,
        users.signup_channel
    from {{ ref('fct_events') }} as events
    inner join {{ ref('dim_users') }} as users
        on events.user_id = users.user_id
    left join {{ ref('fct_user_daily') }} as user_daily
        on events.user_id = user_daily.user_id and events.event_date = user_daily.activity_date

),

segmented as (

    {% for dim, expr in segment_dimensions() + [('event_name', 'event_name')] %}
        select
            event_hour,
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id,
            event_name
        from events
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

hour_series as (

    -- from the fact itself, not from the events CTE: DuckDB materialises a CTE read twice; every event's user is
    -- in dim_users, so the span is the same (this alone did not make the mart fit 3 GB at 40M: BENCHMARKS.md)
    select {{ series('min(event_hour)', 'max(event_hour)', "interval '1' hour") }} as hour_at
    from {{ ref('fct_events') }}

),

hours as (

    select cast(hour_series.hour_at as timestamp) as hour_at
    from hour_series

),

user_counts as (

    -- one row per user in each hour x segment value: the distinct users are then counted with count(), not
    -- count(distinct) (a distinct aggregate per group costs DuckDB about a third more here, identical counts)
    select
        event_hour,
        segment_dim,
        segment_value,
        user_id,
        count(*) as events,
        max(case when event_name = 'signed_up' then 1 else 0 end) as signed_up
    from segmented
    group by event_hour, segment_dim, segment_value, user_id

),

counts as (

    select
        event_hour,
        segment_dim,
        segment_value,
        count(user_id) as active_users,
        sum(events) as events,
        count(case when signed_up = 1 then user_id end) as signups
    from user_counts
    group by event_hour, segment_dim, segment_value

),

segments as (

    select distinct
        segment_dim,
        segment_value
    from counts

)

select
    hours.hour_at,
    segments.segment_dim,
    segments.segment_value,
    cast(coalesce(counts.active_users, 0) as bigint) as active_users,
    cast(coalesce(counts.events, 0) as bigint) as events,
    cast(coalesce(counts.signups, 0) as bigint) as signups
from hours
cross join segments
left join counts
    on
        hours.hour_at = counts.event_hour
        and segments.segment_dim = counts.segment_dim
        and segments.segment_value = counts.segment_value
