-- DAU, WAU (trailing 7 days), MAU (trailing 28 days) and stickiness per day, overall and per segment value.
-- A user active on day a counts towards WAU on days a .. min(a + 6, next active day - 1): the spans tile, so
-- a running sum of +1/-1 edges gives distinct trailing users in one linear pass (no 28x fan-out).
with

user_days as (

    select
        user_daily.user_id,
        user_daily.activity_date,
        user_daily.plan,
        user_daily.platform,
        users.country,
        users.signup_channel
    from {{ ref('fct_user_daily') }} as user_daily
    inner join {{ ref('dim_users') }} as users
        on user_daily.user_id = users.user_id

),

segmented as (

    {% for dim, expr in segment_dimensions() %}
        select distinct
            '{{ dim }}' as segment_dim,
            cast({{ expr }} as {{ dbt.type_string() }}) as segment_value,
            user_id,
            activity_date
        from user_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

spans as (

    select
        *,
        lead(activity_date) over (
            partition by segment_dim, segment_value, user_id order by activity_date
        ) as next_activity_date
    from segmented

),

edges as (

    {% for window in [7, 28] %}
        select
            segment_dim,
            segment_value,
            activity_date as edge_date,
            {{ window }} as window_days,
            1 as delta
        from spans
        union all
        select
            segment_dim,
            segment_value,
            least(
                activity_date + {{ window }},
                coalesce(next_activity_date, activity_date + {{ window }})
            ) as edge_date,
            {{ window }} as window_days,
            -1 as delta
        from spans
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

edge_totals as (

    select
        segment_dim,
        segment_value,
        edge_date,
        window_days,
        sum(delta) as delta
    from edges
    group by segment_dim, segment_value, edge_date, window_days

),

segments as (

    select distinct
        segment_dim,
        segment_value
    from segmented

),

calendar as (

    select
        dates.date_day,
        segments.segment_dim,
        segments.segment_value
    from {{ ref('dim_dates') }} as dates
    cross join segments

),

daily_counts as (

    select
        segment_dim,
        segment_value,
        activity_date,
        count(*) as dau
    from segmented
    group by segment_dim, segment_value, activity_date

),

trailing_counts as (

    select
        calendar.date_day,
        calendar.segment_dim,
        calendar.segment_value,
        coalesce(daily_counts.dau, 0) as dau,
        sum(coalesce(wau_edges.delta, 0)) over segment_days as wau,
        sum(coalesce(mau_edges.delta, 0)) over segment_days as mau
    from calendar
    left join daily_counts
        on
            calendar.segment_dim = daily_counts.segment_dim
            and calendar.segment_value = daily_counts.segment_value
            and calendar.date_day = daily_counts.activity_date
    left join edge_totals as wau_edges
        on
            calendar.segment_dim = wau_edges.segment_dim
            and calendar.segment_value = wau_edges.segment_value
            and calendar.date_day = wau_edges.edge_date
            and wau_edges.window_days = 7
    left join edge_totals as mau_edges
        on
            calendar.segment_dim = mau_edges.segment_dim
            and calendar.segment_value = mau_edges.segment_value
            and calendar.date_day = mau_edges.edge_date
            and mau_edges.window_days = 28
    window segment_days as (
        partition by calendar.segment_dim, calendar.segment_value
        order by calendar.date_day rows unbounded preceding
    )

)

select
    date_day as activity_date,
    segment_dim,
    segment_value,
    cast(dau as bigint) as dau,
    cast(wau as bigint) as wau,
    cast(mau as bigint) as mau,
    case when mau > 0 then dau / mau end as stickiness,
    {{ days_between(
        "(select min(dates.date_day) as first_date from " ~ ref('dim_dates') ~ " as dates)", 'date_day'
    ) }} >= 27 as is_full_mau_window
from trailing_counts
