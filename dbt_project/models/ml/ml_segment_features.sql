-- Behavioural features per user over the last var('segment_window_days') days of data, in long format
-- (user_id, feature, feature_value): the input of user_segments. Long so that a new feature category in the catalog
-- becomes a new feature without a schema change; the Python models pivot it.
-- Category shares are smoothed towards the population's mix with var('segment_share_prior_events') pseudo
-- events: a user with 3 feature events is not "100 % AI" (additive smoothing).
{% set window_days = var('segment_window_days', 28) %}
{% set prior_events = var('segment_share_prior_events', 5) %}

with

bounds as (

    select
        max(activity_date) as window_end,
        max(activity_date) - {{ window_days - 1 }} as window_start
    from {{ ref('fct_user_daily') }}

),

user_days as (

    select
        user_daily.user_id,
        user_daily.activity_date,
        user_daily.events,
        user_daily.sessions,
        user_daily.session_seconds,
        user_daily.feature_keys,
        isodow(user_daily.activity_date) >= 6 as is_weekend
    from {{ ref('fct_user_daily') }} as user_daily
    inner join bounds
        on user_daily.activity_date between bounds.window_start and bounds.window_end

),

activity as (

    select
        user_id,
        count(*) as active_days,
        sum(events) as events,
        sum(sessions) as sessions,
        sum(session_seconds) as session_seconds,
        avg(case when is_weekend then 1.0 else 0.0 end) as weekend_share
    from user_days
    group by user_id

),

breadth as (

    select
        user_id,
        count(distinct feature_key) as feature_breadth
    from (
        select
            user_id,
            unnest(feature_keys) as feature_key
        from user_days
    ) as used
    group by user_id

),

feature_events as (

    select
        events.user_id,
        features.feature_category,
        count(*) as events
    from {{ ref('fct_events') }} as events
    inner join bounds
        on events.event_date between bounds.window_start and bounds.window_end
    inner join {{ ref('dim_features') }} as features
        on events.feature_key = features.feature_key
    group by events.user_id, features.feature_category

),

categories as (

    select distinct features.feature_category
    from {{ ref('dim_features') }} as features

),

population_mix as (

    select
        categories.feature_category,
        coalesce(sum(feature_events.events), 0) / (
            select sum(all_events.events) as all_feature_events from feature_events as all_events
        ) as population_share
    from categories
    left join feature_events
        on categories.feature_category = feature_events.feature_category
    group by categories.feature_category

),

category_counts as (

    select
        activity.user_id,
        population_mix.feature_category,
        population_mix.population_share,
        coalesce(feature_events.events, 0) as events,
        sum(coalesce(feature_events.events, 0)) over (partition by activity.user_id) as user_events
    from activity
    cross join population_mix
    left join feature_events
        on
            activity.user_id = feature_events.user_id
            and population_mix.feature_category = feature_events.feature_category

),

category_shares as (

    select
        user_id,
        'share_' || feature_category as feature,
        (events + {{ prior_events }} * population_share) / (user_events + {{ prior_events }}) as feature_value
    from category_counts

),

measures as (

    select
        activity.user_id,
        activity.active_days,
        activity.events / activity.active_days as events_per_active_day,
        activity.sessions / activity.active_days as sessions_per_active_day,
        activity.session_seconds / 60.0 / nullif(activity.sessions, 0) as minutes_per_session,
        coalesce(breadth.feature_breadth, 0) as feature_breadth,
        activity.weekend_share
    from activity
    left join breadth
        on activity.user_id = breadth.user_id

),

long_measures as (

    unpivot measures
    on columns(* exclude (user_id))
    into name feature value feature_value

)

select
    features.user_id,
    features.feature,
    features.feature_value,
    bounds.window_start,
    bounds.window_end
from (
    select
        user_id,
        feature,
        cast(feature_value as double) as feature_value
    from long_measures
    union all
    select
        user_id,
        feature,
        feature_value
    from category_shares
) as features
cross join bounds
