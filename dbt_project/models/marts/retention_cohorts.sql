-- Weekly signup cohorts x week N after signup. Week N = days [7N, 7N + 7) after the signup day.
-- retention_rate is bounded (active in week N exactly); retention_rate_unbounded is "week N or later".
-- Only users whose week N has fully happened in the data count as eligible for that week.
with

bounds as (

    select
        min(date_day) as first_date,
        max(date_day) as last_date
    from {{ ref('dim_dates') }}

),

cohort_users as (

    select
        users.user_id,
        users.signup_date,
        cast({{ dbt.date_trunc('week', 'users.signup_date') }} as date) as cohort_week
    from {{ ref('dim_users') }} as users
    cross join bounds
    where users.signup_date >= bounds.first_date

),

activity_weeks as (

    select distinct
        user_daily.user_id,
        cast(floor({{ days_between('cohort_users.signup_date', 'user_daily.activity_date') }} / 7) as integer)
            as week_number
    from {{ ref('fct_user_daily') }} as user_daily
    inner join cohort_users
        on user_daily.user_id = cohort_users.user_id
    where user_daily.activity_date >= cohort_users.signup_date

),

last_active as (

    select
        user_id,
        max(week_number) as last_active_week
    from activity_weeks
    group by user_id

),

week_series as (

    select {{ series('0', var('retention_max_week')) }} as week_number

),

weeks as (

    select cast(week_series.week_number as integer) as week_number
    from week_series

),

user_weeks as (

    select
        cohort_users.user_id,
        cohort_users.cohort_week,
        weeks.week_number,
        cohort_users.signup_date + (7 * weeks.week_number + 6) <= bounds.last_date as is_observed,
        activity_weeks.user_id is not null as is_active,
        coalesce(last_active.last_active_week, -1) >= weeks.week_number as is_active_or_later
    from cohort_users
    cross join weeks
    cross join bounds
    left join activity_weeks
        on cohort_users.user_id = activity_weeks.user_id and weeks.week_number = activity_weeks.week_number
    left join last_active
        on cohort_users.user_id = last_active.user_id

)

select
    cohort_week,
    week_number,
    cast(count(*) as bigint) as cohort_users,
    cast(count(*) filter (where is_observed) as bigint) as eligible_users,
    cast(count(*) filter (where is_observed and is_active) as bigint) as retained_users,
    cast(count(*) filter (where is_observed and is_active_or_later) as bigint) as retained_or_later_users,
    case
        when count(*) filter (where is_observed) > 0
            then count(*) filter (where is_observed and is_active) / count(*) filter (where is_observed)
    end as retention_rate,
    case
        when count(*) filter (where is_observed) > 0
            then count(*) filter (where is_observed and is_active_or_later) / count(*) filter (where is_observed)
    end as retention_rate_unbounded
from user_weeks
group by cohort_week, week_number
