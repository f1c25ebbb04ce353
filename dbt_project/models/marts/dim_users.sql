-- One row per user seen in valid events, with signup, churn, acquisition and current attributes. The churn dates
-- follow the one churn definition: subscription_cancelled, or var('churn_inactivity_days') days without activity.
with

events as (

    select * from {{ ref('fct_events') }}

),

activity as (

    select
        user_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        min(case when event_name = 'signed_up' then event_at end) as signed_up_at,
        min(case when event_name = 'subscription_cancelled' then event_date end) as cancelled_date,
        mode(platform) as primary_platform,
        mode(event_country) as event_country
    from events
    group by user_id

),

active_days as (

    select distinct
        user_id,
        event_date as activity_date
    from events

),

activity_gaps as (

    select
        user_id,
        activity_date,
        lead(activity_date) over (partition by user_id order by activity_date) as next_active_date
    from active_days

),

bounds as (

    select max(event_date) as last_date from events

),

silent_churn as (

    -- Silent churn starts on the first active day followed by var('churn_inactivity_days') days without valid
    -- activity that all lie inside the data (a user who left yesterday is not churned yet).
    select
        activity_gaps.user_id,
        min(activity_gaps.activity_date) as silent_churn_date
    from activity_gaps
    cross join bounds
    where
        {{ days_between('activity_gaps.activity_date', 'activity_gaps.next_active_date') }}
        > {{ var('churn_inactivity_days') }}
        or (
            activity_gaps.next_active_date is null
            and activity_gaps.activity_date + {{ var('churn_inactivity_days') }} <= bounds.last_date
        )
    group by activity_gaps.user_id

),

latest_traits as (

    select
        user_id,
        {{ value_at_max('company_size', 'identified_at') }} as company_size,
        {{ value_at_max('country', 'identified_at') }} as country,
        {{ value_at_max('signup_channel', 'identified_at') }} as signup_channel,
        {{ value_at_max('seats', 'identified_at') }} as seats,
        min(created_at) as created_at
    from {{ ref('stg_segment__identifies') }}
    group by user_id

),

current_plan as (

    select
        user_id,
        plan
    from {{ ref('int_user_plans_versioned') }}
    where is_current

)

select
    activity.user_id,
    coalesce(activity.signed_up_at, latest_traits.created_at, activity.first_seen_at) as signup_at,
    cast(coalesce(activity.signed_up_at, latest_traits.created_at, activity.first_seen_at) as date) as signup_date,
    activity.signed_up_at is not null as signed_up_in_data,
    activity.first_seen_at,
    activity.last_seen_at,
    activity.cancelled_date,
    silent_churn.silent_churn_date,
    least(activity.cancelled_date, silent_churn.silent_churn_date) as churn_date,
    coalesce(latest_traits.signup_channel, 'unknown') as signup_channel,
    coalesce(latest_traits.company_size, 'unknown') as company_size,
    coalesce(latest_traits.country, activity.event_country, 'unknown') as country,
    activity.primary_platform,
    coalesce(current_plan.plan, 'unknown') as current_plan,
    latest_traits.seats
from activity
left join latest_traits on activity.user_id = latest_traits.user_id
left join current_plan on activity.user_id = current_plan.user_id
left join silent_churn on activity.user_id = silent_churn.user_id
