-- The signup -> activation -> key feature -> upgrade funnel per weekly signup cohort. Steps and their events
-- come from the funnel_steps seed. A user reaches step k when they reached step k - 1 and performed step k's
-- event within var('funnel_window_days') of signing up (order inside the window is not enforced).
with

steps as (

    select
        step_order,
        step_name,
        event_name
    from {{ ref('funnel_steps') }}

),

cohort_users as (

    select
        user_id,
        signup_at,
        cast({{ dbt.date_trunc('week', 'signup_date') }} as date) as cohort_week
    from {{ ref('dim_users') }}
    where signed_up_in_data

),

step_events as (

    select distinct
        events.user_id,
        events.event_name
    from {{ ref('fct_events') }} as events
    inner join cohort_users
        on events.user_id = cohort_users.user_id
    where
        events.event_name in (select steps.event_name from steps)
        and events.event_at >= cohort_users.signup_at
        and events.event_at < cohort_users.signup_at + interval '{{ var("funnel_window_days") }}' day

),

user_steps as (

    select
        cohort_users.user_id,
        cohort_users.cohort_week,
        steps.step_order,
        steps.step_name,
        bool_and(
            steps.step_order = 1 or step_events.user_id is not null
        ) over (partition by cohort_users.user_id order by steps.step_order rows unbounded preceding) as reached
    from cohort_users
    cross join steps
    left join step_events
        on cohort_users.user_id = step_events.user_id and steps.event_name = step_events.event_name

),

counts as (

    select
        cohort_week,
        step_order,
        step_name,
        count(*) filter (where reached) as users_reached
    from user_steps
    group by cohort_week, step_order, step_name

)

select
    cohort_week,
    step_order,
    step_name,
    cast(users_reached as bigint) as users_reached,
    users_reached / nullif(lag(users_reached) over (partition by cohort_week order by step_order), 0)
        as conversion_from_previous,
    users_reached / nullif(first_value(users_reached) over (partition by cohort_week order by step_order), 0)
        as conversion_from_signup
from counts
