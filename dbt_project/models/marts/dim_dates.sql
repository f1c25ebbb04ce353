-- A calendar spanning the events, with ISO weeks (Monday starts), weekday flags and the churn snapshot calendar:
-- which days are weekly churn snapshots and which one the churn models score. That rule lives here only;
-- fct_user_features, the churn prediction models and the served churn scores all read it from these columns.
{%- set scoring_override = var('churn_scoring_snapshot_date', '') %}
with

bounds as (

    select
        min(event_date) as first_date,
        max(event_date) as last_date
    from {{ ref('fct_events') }}

),

day_series as (

    select {{ series('first_date', 'last_date', "interval '1' day") }} as date_day
    from bounds
    where first_date is not null

),

spine as (

    select cast(day_series.date_day as date) as date_day
    from day_series

),

calendar as (

    select
        spine.date_day,
        cast({{ dbt.date_trunc('week', 'spine.date_day') }} as date) as iso_week_start,
        cast({{ iso_year('spine.date_day') }} as integer) as iso_year,
        cast({{ iso_week('spine.date_day') }} as integer) as iso_week,
        cast({{ iso_day_of_week('spine.date_day') }} as integer) as iso_day_of_week,
        {{ day_name('spine.date_day') }} as day_name,
        {{ iso_day_of_week('spine.date_day') }} >= 6 as is_weekend,
        cast({{ dbt.date_trunc('month', 'spine.date_day') }} as date) as month_start,
        -- weekly churn snapshots: Mondays with a full inactivity window of data before them
        {{ iso_day_of_week('spine.date_day') }} = 1
        and spine.date_day >= bounds.first_date + {{ var('churn_inactivity_days') }} as is_churn_snapshot
    from spine
    cross join bounds

),

scoring as (

    -- the snapshot to score: var('churn_scoring_snapshot_date') when set (it may lie after the data, e.g. to
    -- serve the last scores flagged stale), else the latest weekly snapshot
    select
        coalesce(
            cast(nullif('{{ scoring_override }}', '') as date),
            max(date_day) filter (where is_churn_snapshot)
        ) as churn_scoring_snapshot_date
    from calendar

)

select
    calendar.date_day,
    calendar.iso_week_start,
    calendar.iso_year,
    calendar.iso_week,
    calendar.iso_day_of_week,
    calendar.day_name,
    calendar.is_weekend,
    calendar.month_start,
    calendar.is_churn_snapshot,
    coalesce(calendar.date_day = scoring.churn_scoring_snapshot_date, false) as is_scoring_snapshot,
    scoring.churn_scoring_snapshot_date
from calendar
cross join scoring
