{{ config(materialized='table') }}

-- One row per new user x catalogued feature: did the user adopt the feature within
-- var('adoption_window_days') days of signup (the treatment), what was observable about them before
-- adoption could happen (the covariates), and were they active 30 / 60 days later (the outcomes).
-- Days are UTC calendar days counted from the signup day (day 0). Only users with a signed_up event whose
-- adoption window lies inside the data enter; outcomes are null where their window is not fully observed.
-- present_at_landmark: active at least once in the last var('landmark_presence_days') days of the adoption
-- window. Adopting needs the user to still be around, so users who left early can only be non-adopters
-- (immortal time); the causal model compares adopters and non-adopters among users present at the landmark.
with

bounds as (

    select max(date_day) as last_date from {{ ref('dim_dates') }}

),

new_users as (

    select
        users.user_id,
        users.signup_date,
        users.signup_channel,
        users.company_size
    from {{ ref('dim_users') }} as users
    cross join bounds
    where
        users.signed_up_in_data
        and users.signup_date + {{ var('adoption_window_days') }} - 1 <= bounds.last_date

),

signup_events as (

    select
        user_id,
        arg_min(json_extract_string(properties, '$.plan'), event_at) as signup_plan,
        arg_min(json_extract_string(properties, '$.channel'), event_at) as signup_channel
    from {{ ref('fct_events') }}
    where event_name = 'signed_up'
    group by user_id

),

first_plans as (

    select
        user_id,
        arg_min(plan, valid_from) as first_plan
    from {{ ref('dim_user_plans') }}
    group by user_id

),

user_days as (

    select
        new_users.user_id,
        daily.activity_date,
        daily.events,
        daily.feature_keys,
        date_diff('day', new_users.signup_date, daily.activity_date) as day_number
    from new_users
    inner join {{ ref('fct_user_daily') }} as daily
        on new_users.user_id = daily.user_id

),

user_activity as (

    select
        user_id,
        count(*) filter (where day_number between 0 and 6) as active_days_d0_6,
        coalesce(sum(events) filter (where day_number between 0 and 6), 0) as events_d0_6,
        count(*) filter (
            where day_number between {{ var('adoption_window_days') }} - {{ var('landmark_presence_days') }}
            and {{ var('adoption_window_days') }} - 1
        ) as landmark_active_days,
        count(*) filter (where day_number between 30 and 36) > 0 as active_d30_36,
        count(*) filter (where day_number between 60 and 66) > 0 as active_d60_66
    from user_days
    group by user_id

),

feature_days as (

    select
        user_id,
        day_number,
        unnest(feature_keys) as feature_key
    from user_days

),

first_use as (

    select
        user_id,
        feature_key,
        min(day_number) as first_use_day
    from feature_days
    group by user_id, feature_key

),

cohort as (

    select
        new_users.user_id,
        new_users.signup_date,
        coalesce(signup_events.signup_plan, first_plans.first_plan, 'unknown') as signup_plan,
        coalesce(signup_events.signup_channel, new_users.signup_channel, 'unknown') as signup_channel,
        new_users.company_size,
        coalesce(user_activity.active_days_d0_6, 0) as active_days_d0_6,
        coalesce(user_activity.events_d0_6, 0) as events_d0_6,
        coalesce(user_activity.landmark_active_days, 0) as landmark_active_days,
        new_users.signup_date + 36 <= bounds.last_date as observed_30d,
        new_users.signup_date + 66 <= bounds.last_date as observed_60d,
        coalesce(user_activity.active_d30_36, false) as active_d30_36,
        coalesce(user_activity.active_d60_66, false) as active_d60_66
    from new_users
    cross join bounds
    left join signup_events on new_users.user_id = signup_events.user_id
    left join first_plans on new_users.user_id = first_plans.user_id
    left join user_activity on new_users.user_id = user_activity.user_id

)

select
    cohort.user_id,
    features.feature_key,
    features.feature_name,
    features.is_key_feature,
    cohort.signup_date,
    cast(first_use.first_use_day as integer) as first_use_day,
    coalesce(first_use.first_use_day between 0 and {{ var('adoption_window_days') }} - 1, false) as adopted,
    coalesce(first_use.first_use_day between 0 and 6, false) as adopted_by_day_6,
    cohort.signup_plan,
    cohort.signup_channel,
    cohort.company_size,
    cast(cohort.active_days_d0_6 as integer) as active_days_d0_6,
    cast(cohort.events_d0_6 as bigint) as events_d0_6,
    cast(cohort.landmark_active_days as integer) as landmark_active_days,
    cohort.landmark_active_days > 0 as present_at_landmark,
    cohort.observed_30d,
    cohort.observed_60d,
    case when cohort.observed_30d then cohort.active_d30_36 end as retained_30d,
    case when cohort.observed_60d then cohort.active_d60_66 end as retained_60d
from cohort
cross join {{ ref('dim_features') }} as features
left join first_use
    on cohort.user_id = first_use.user_id and features.feature_key = first_use.feature_key
