{{
    config(
        materialized=incremental_materialization(),
        unique_key='snapshot_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- depends_on: {{ ref('stg_segment__identifies') }}
-- One row per eligible user per weekly snapshot (dim_dates.is_churn_snapshot), with features computed ONLY from
-- activity before the snapshot date. Eligible = active in the var('churn_inactivity_days') days before the snapshot
-- and not cancelled before it (the population the churn label is defined on). Incremental runs recompute snapshots
-- after the earliest day touched by newly loaded events, so late events correct features point-in-time, the
-- snapshots holding a row whose plan, tenure or seats the identify history no longer gives (a late identify), and
-- build every snapshot newer than the newest stored.
with

{% if is_incremental() %}
    bounds as (

        select max(date_day) as last_date from {{ ref('dim_dates') }}

    ),

    reidentified_users as (

        -- users with identify calls loaded since the last run: the only ones whose identify history can have
        -- changed (identify calls are attributed by their own timestamp, so a late one rewrites past snapshots)
        {{ reidentified_users('source_loaded_at') }}

    ),

    reidentified_rows as (

        select
            existing.user_id,
            existing.snapshot_date,
            existing.plan,
            existing.tenure_days,
            existing.seats
        from {{ this }} as existing
        inner join reidentified_users
            on existing.user_id = reidentified_users.user_id

    ),

    reidentified_identities as (

        {{ snapshot_identity('reidentified_rows') }}

    ),

    restated_snapshots as (

        -- snapshots holding a row of theirs whose identify-derived values are no longer the ones in force
        select distinct reidentified_rows.snapshot_date
        from reidentified_rows
        left join reidentified_identities
            on
                reidentified_rows.user_id = reidentified_identities.user_id
                and reidentified_rows.snapshot_date = reidentified_identities.snapshot_date
        where
            reidentified_identities.user_id is null
            or reidentified_rows.plan != reidentified_identities.plan
            or reidentified_rows.tenure_days != reidentified_identities.tenure_days
            or reidentified_rows.seats != reidentified_identities.seats

    ),
{% endif %}

recompute_after as (

    {% if is_incremental() %}
        select coalesce(min(events.event_date), max(bounds.last_date)) as first_affected_date
        from {{ ref('fct_events') }} as events
        cross join bounds
        where
            events.loaded_at
            > (select max(existing.source_loaded_at) as watermark from {{ this }} as existing)
    {% else %}
        select cast('1900-01-01' as date) as first_affected_date
    {% endif %}

),

snapshots as (

    -- the weekly snapshot calendar is dim_dates.is_churn_snapshot (one rule for features and scoring)
    select dates.date_day as snapshot_date
    from {{ ref('dim_dates') }} as dates
    where
        dates.is_churn_snapshot
        and (
            dates.date_day > (select recompute_after.first_affected_date from recompute_after)
            {% if is_incremental() %}
                or dates.date_day in (select restated_snapshots.snapshot_date from restated_snapshots)
                -- a snapshot date the table has not reached yet: the load that first brings it may hold no event
                -- dated before it (a feed with no late events), and its features are due all the same
                or dates.date_day > (select max(existing.snapshot_date) as last_built from {{ this }} as existing)
            {% endif %}
        )

),

user_daily as (

    select * from {{ ref('fct_user_daily') }}

),

support_days as (

    select
        events.user_id,
        events.event_date,
        count(*) as tickets
    from {{ ref('fct_events') }} as events
    inner join {{ ref('event_taxonomy') }} as taxonomy
        on events.event_name = taxonomy.event_name
    where taxonomy.category = 'support'
    group by events.user_id, events.event_date

),

key_feature_first_use as (

    select
        events.user_id,
        min(events.event_date) as first_used_date
    from {{ ref('fct_events') }} as events
    inner join {{ ref('dim_features') }} as features
        on events.feature_key = features.feature_key
    where features.is_key_feature
    group by events.user_id

),

window_activity as (

    -- one row per user-day in the window: sums and day counts must not see the feature unnest below
    select
        snapshots.snapshot_date,
        user_daily.user_id,
        count(*) filter (where user_daily.activity_date >= snapshots.snapshot_date - 7) as active_days_7d,
        count(*) as active_days_28d,
        sum(user_daily.events) filter (where user_daily.activity_date >= snapshots.snapshot_date - 7) as events_7d,
        sum(user_daily.events) as events_28d,
        sum(user_daily.sessions) as sessions_28d,
        sum(user_daily.session_seconds) as session_seconds_28d
    from snapshots
    inner join user_daily
        on
            snapshots.snapshot_date > user_daily.activity_date
            and user_daily.activity_date >= snapshots.snapshot_date - 28
    group by snapshots.snapshot_date, user_daily.user_id

),

window_features as (

    -- one row per user-day-feature: only distinct features are counted from it
    select
        snapshots.snapshot_date,
        user_daily.user_id,
        count(distinct feature.key) as feature_breadth_28d
    from snapshots
    inner join user_daily
        on
            snapshots.snapshot_date > user_daily.activity_date
            and user_daily.activity_date >= snapshots.snapshot_date - 28
    {{ join_list_elements('user_daily.feature_keys', 'feature', 'key') }}
    group by snapshots.snapshot_date, user_daily.user_id

),

eligible as (

    select
        snapshots.snapshot_date,
        user_daily.user_id,
        max(user_daily.activity_date) as last_active_date
    from snapshots
    inner join user_daily
        on
            snapshots.snapshot_date > user_daily.activity_date
            and user_daily.activity_date >= snapshots.snapshot_date - {{ var('churn_inactivity_days') }}
    inner join {{ ref('dim_users') }} as users
        on user_daily.user_id = users.user_id
    where users.cancelled_date is null or users.cancelled_date >= snapshots.snapshot_date
    group by snapshots.snapshot_date, user_daily.user_id

),

tickets as (

    select
        eligible.snapshot_date,
        eligible.user_id,
        sum(support_days.tickets) as tickets_28d
    from eligible
    inner join support_days
        on
            eligible.user_id = support_days.user_id
            and eligible.snapshot_date > support_days.event_date
            and support_days.event_date >= eligible.snapshot_date - 28
    group by eligible.snapshot_date, eligible.user_id

),

snapshot_identities as (

    {{ snapshot_identity('eligible') }}

)

select
    eligible.user_id,
    eligible.snapshot_date,
    cast({{ days_between('eligible.last_active_date', 'eligible.snapshot_date') }} as integer)
        as days_since_last_active,
    cast(coalesce(window_activity.active_days_7d, 0) as integer) as active_days_7d,
    cast(coalesce(window_activity.active_days_28d, 0) as integer) as active_days_28d,
    cast(coalesce(window_activity.events_7d, 0) as bigint) as events_7d,
    cast(coalesce(window_activity.events_28d, 0) as bigint) as events_28d,
    cast(
        cast(coalesce(window_activity.events_7d, 0) as double)
        / greatest(cast(coalesce(window_activity.events_28d, 0) as double) / 4, 1)
        as double
    ) as trend_7d_vs_28d,
    cast(coalesce(window_activity.sessions_28d, 0) as bigint) as sessions_28d,
    cast(
        cast(coalesce(window_activity.session_seconds_28d, 0) as double) / 60
        / greatest(coalesce(window_activity.sessions_28d, 0), 1)
        as double
    ) as avg_session_minutes_28d,
    cast(coalesce(window_features.feature_breadth_28d, 0) as integer) as feature_breadth_28d,
    cast(coalesce(key_feature_first_use.first_used_date < eligible.snapshot_date, false) as integer)
        as key_feature_adopted,
    cast(coalesce(tickets.tickets_28d, 0) as integer) as tickets_28d,
    snapshot_identities.plan,
    snapshot_identities.tenure_days,
    snapshot_identities.seats,
    (select max(user_daily.loaded_at) as newest_load from user_daily) as source_loaded_at
from eligible
inner join snapshot_identities
    on eligible.snapshot_date = snapshot_identities.snapshot_date and eligible.user_id = snapshot_identities.user_id
left join window_activity
    on eligible.snapshot_date = window_activity.snapshot_date and eligible.user_id = window_activity.user_id
left join window_features
    on eligible.snapshot_date = window_features.snapshot_date and eligible.user_id = window_features.user_id
left join key_feature_first_use
    on eligible.user_id = key_feature_first_use.user_id
left join tickets
    on eligible.snapshot_date = tickets.snapshot_date and eligible.user_id = tickets.user_id
