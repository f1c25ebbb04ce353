-- A calendar spanning the events, with ISO weeks (Monday starts) for cohorts and weekday flags.
with

bounds as (

    select
        min(event_date) as first_date,
        max(event_date) as last_date
    from {{ ref('fct_events') }}

),

spine as (

    select cast(unnest(generate_series(first_date, last_date, interval 1 day)) as date) as date_day
    from bounds
    where first_date is not null

)

select
    date_day,
    cast(date_trunc('week', date_day) as date) as iso_week_start,
    cast(isoyear(date_day) as integer) as iso_year,
    cast(week(date_day) as integer) as iso_week,
    cast(isodow(date_day) as integer) as iso_day_of_week,
    dayname(date_day) as day_name,
    isodow(date_day) >= 6 as is_weekend,
    cast(date_trunc('month', date_day) as date) as month_start
from spine
