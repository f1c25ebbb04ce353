-- Per day and feature: users who used it, first-time adopters, cumulative adopters, and share of DAU.
with

usage as (

    select
        feature_key,
        user_id,
        event_date,
        min(event_date) over (partition by feature_key, user_id) as first_used_date
    from {{ ref('fct_events') }}
    where feature_key is not null

),

daily as (

    select
        feature_key,
        event_date,
        count(distinct user_id) as users_used,
        count(distinct case when event_date = first_used_date then user_id end) as new_adopters
    from usage
    group by feature_key, event_date

),

dau as (

    select
        activity_date,
        count(*) as dau
    from {{ ref('fct_user_daily') }}
    group by activity_date

),

calendar as (

    select
        dates.date_day,
        features.feature_key
    from {{ ref('dim_dates') }} as dates
    cross join {{ ref('dim_features') }} as features

)

select
    calendar.date_day as activity_date,
    calendar.feature_key,
    cast(coalesce(daily.users_used, 0) as bigint) as users_used,
    cast(coalesce(daily.new_adopters, 0) as bigint) as new_adopters,
    cast(sum(coalesce(daily.new_adopters, 0)) over (
        partition by calendar.feature_key order by calendar.date_day rows unbounded preceding
    ) as bigint) as cumulative_adopters,
    cast(coalesce(dau.dau, 0) as bigint) as dau,
    coalesce(daily.users_used, 0) / nullif(dau.dau, 0) as share_of_dau
from calendar
left join daily
    on calendar.feature_key = daily.feature_key and calendar.date_day = daily.event_date
left join dau
    on calendar.date_day = dau.activity_date
