-- Hourly events per event name x segment value: where in the population an event-level move sits (an error
-- event rising on one platform only). metric_incidents reads it to tell who an event's incident hits.
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

    {% for dim, expr in segment_dimensions() if dim != 'all' %}
        select
            event_hour,
            event_name,
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id
        from events
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
        count(*) as events
    from segmented
    group by event_hour, event_name, segment_dim, segment_value, user_id

)

select
    event_hour as hour_at,
    event_name,
    segment_dim,
    segment_value,
    cast(sum(events) as bigint) as events,
    cast(count(user_id) as bigint) as active_users
from user_counts
group by event_hour, event_name, segment_dim, segment_value
