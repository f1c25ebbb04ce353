-- New users per day (a valid signed_up event that day), overall and per channel, plan and platform.
with

signups as (

    select
        events.user_id,
        events.event_date,
        events.platform,
        coalesce({{ json_text('events.properties', '$.plan') }}, 'unknown') as plan,
        coalesce({{ json_text('events.properties', '$.channel') }}, users.signup_channel) as channel
    from {{ ref('fct_events') }} as events
    inner join {{ ref('dim_users') }} as users
        on events.user_id = users.user_id
    where events.event_name = 'signed_up'

),

segmented as (

    {% for dim in ['all', 'channel', 'plan', 'platform'] %}
        select
            event_date,
            '{{ dim }}' as segment_dim,
            {{ "'all'" if dim == 'all' else dim }} as segment_value,
            user_id
        from signups
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

segments as (

    select distinct
        segment_dim,
        segment_value
    from segmented

)

select
    dates.date_day as signup_date,
    segments.segment_dim,
    segments.segment_value,
    cast(count(distinct segmented.user_id) as bigint) as signups
from {{ ref('dim_dates') }} as dates
cross join segments
left join segmented
    on
        dates.date_day = segmented.event_date
        and segments.segment_dim = segmented.segment_dim
        and segments.segment_value = segmented.segment_value
group by dates.date_day, segments.segment_dim, segments.segment_value
