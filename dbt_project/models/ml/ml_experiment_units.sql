{{ config(materialized='table') }}

{%- set conversion_event = var('experiment_conversion_event') %}
{%- set window_days = var('experiment_window_days') %}
{%- set pre_period_days = var('experiment_pre_period_days') %}

-- One row per user x feature-flag experiment, for every flag found in experiment_exposed events (properties
-- flag / variant). The user's first exposure fixes the variant and day 0; converted = a conversion event on days
-- [0, window) from the first exposure day (UTC days; null when that window ends after the last day of data);
-- pre_active_days = active days in the pre-period days before the exposure day (the CUPED covariate).
with

bounds as (

    select max(date_day) as last_date from {{ ref('dim_dates') }}

),

exposures as (

    select
        user_id,
        event_at,
        json_extract_string(properties, '$.flag') as experiment,
        json_extract_string(properties, '$.variant') as variant
    from {{ ref('fct_events') }}
    where event_name = 'experiment_exposed'

),

units as (

    select
        experiment,
        user_id,
        arg_min(variant, event_at) as variant,
        count(distinct variant) as variants_seen,
        count(*) as exposures,
        min(event_at) as first_exposed_at
    from exposures
    where experiment is not null and variant is not null
    group by experiment, user_id

),

conversions as (

    select
        units.experiment,
        units.user_id,
        count(*) as conversions
    from units
    inner join {{ ref('fct_events') }} as events
        on units.user_id = events.user_id
    where
        events.event_name = '{{ conversion_event }}'
        and events.event_date >= cast(units.first_exposed_at as date)
        and events.event_date < cast(units.first_exposed_at as date) + {{ window_days }}
    group by units.experiment, units.user_id

),

pre_activity as (

    select
        units.experiment,
        units.user_id,
        count(*) as active_days
    from units
    inner join {{ ref('fct_user_daily') }} as daily
        on units.user_id = daily.user_id
    where
        daily.activity_date >= cast(units.first_exposed_at as date) - {{ pre_period_days }}
        and daily.activity_date < cast(units.first_exposed_at as date)
    group by units.experiment, units.user_id

)

select
    units.experiment,
    units.user_id,
    units.variant,
    cast(units.variants_seen as integer) as variants_seen,
    cast(units.exposures as integer) as exposures,
    units.first_exposed_at,
    cast(units.first_exposed_at as date) as exposure_date,
    cast(units.first_exposed_at as date) + {{ window_days }} - 1 <= bounds.last_date as outcome_observed,
    case
        when cast(units.first_exposed_at as date) + {{ window_days }} - 1 <= bounds.last_date
            then coalesce(conversions.conversions, 0) > 0
    end as converted,
    cast(coalesce(pre_activity.active_days, 0) as integer) as pre_active_days
from units
cross join bounds
left join conversions
    on units.experiment = conversions.experiment and units.user_id = conversions.user_id
left join pre_activity
    on units.experiment = pre_activity.experiment and units.user_id = pre_activity.user_id
