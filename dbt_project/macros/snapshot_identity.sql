{#-
    snapshot_identity(rows): fct_user_features' columns that come from the identify history rather than from
    events -- the plan in force at the snapshot, tenure_days and seats -- for each (user_id, snapshot_date) of
    the relation or CTE `rows`. One rule, two callers in the model: the rows it builds, and the rows it stored
    for re-identified users, whose values it compares with these to find the snapshots a late identify restated.
    The plan is the one in force just before the snapshot date (activity strictly before it); tenure counts
    from dim_users.signup_date (a signup event, else the earliest identify created_at trait); seats are the
    count in force just before the snapshot date, by the same rule as the plan (1 when none reported yet): the
    latest count would leak what happened after the snapshot into the features the churn model learns from.
-#}
{% macro snapshot_identity(rows) -%}
    select
        {{ rows }}.user_id,
        {{ rows }}.snapshot_date,
        coalesce(plans.plan, 'unknown') as plan,
        cast({{ days_between('users.signup_date', rows ~ '.snapshot_date') }} as integer) as tenure_days,
        coalesce(seat_counts.seats, 1) as seats
    from {{ rows }}
    inner join {{ ref('dim_users') }} as users
        on {{ rows }}.user_id = users.user_id
    left join {{ ref('int_user_plans_versioned') }} as plans
        on
            {{ rows }}.user_id = plans.user_id
            and {{ rows }}.snapshot_date > plans.valid_from
            and {{ rows }}.snapshot_date <= {{ period_end('plans.valid_to') }}
    left join {{ ref('int_user_seats_versioned') }} as seat_counts
        on
            {{ rows }}.user_id = seat_counts.user_id
            and {{ rows }}.snapshot_date > seat_counts.valid_from
            and {{ rows }}.snapshot_date <= {{ period_end('seat_counts.valid_to') }}
{%- endmacro %}
