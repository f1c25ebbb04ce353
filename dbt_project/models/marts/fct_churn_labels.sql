-- The churn outcome of each user-snapshot in fct_user_features, by the one churn definition: cancelled in
-- [snapshot, snapshot + horizon) or no valid activity in that window. Null while the horizon has not fully
-- happened in the data. Kept apart from the features so no model can read the future by accident.
with

bounds as (

    select max(date_day) as last_date from {{ ref('dim_dates') }}

),

snapshots as (

    select
        user_id,
        snapshot_date
    from {{ ref('fct_user_features') }}

),

activity as (

    select
        snapshots.user_id,
        snapshots.snapshot_date,
        count(user_daily.activity_date) as active_days_in_horizon
    from snapshots
    left join {{ ref('fct_user_daily') }} as user_daily
        on
            snapshots.user_id = user_daily.user_id
            and snapshots.snapshot_date <= user_daily.activity_date
            and user_daily.activity_date < snapshots.snapshot_date + {{ var('churn_horizon_days') }}
    group by snapshots.user_id, snapshots.snapshot_date

),

labelled as (

    select
        activity.user_id,
        activity.snapshot_date,
        activity.snapshot_date + {{ var('churn_horizon_days') }} - 1 <= bounds.last_date as is_horizon_complete,
        case
            when
                users.cancelled_date >= activity.snapshot_date
                and users.cancelled_date < activity.snapshot_date + {{ var('churn_horizon_days') }}
                then 'cancelled'
            when activity.active_days_in_horizon = 0 then 'silent'
        end as churn_kind
    from activity
    cross join bounds
    inner join {{ ref('dim_users') }} as users
        on activity.user_id = users.user_id

)

select
    user_id,
    snapshot_date,
    is_horizon_complete,
    churn_kind,
    case
        when not is_horizon_complete then null
        when churn_kind is not null then 1
        else 0
    end as churned_30d
from labelled
