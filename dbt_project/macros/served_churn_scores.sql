{#- The served churn scores of one churn_predictions version (shared by churn_scores_v1 and _v2). -#}
{% macro served_churn_scores(version) -%}

{%- set scoring_override = var('churn_scoring_snapshot_date', '') %}

-- Churn scores of one model version as served to consumers: the latest stored predictions on or before the expected
-- scoring snapshot (the latest eligible Monday of dim_dates, or var('churn_scoring_snapshot_date')). When that
-- snapshot had no users, churn_predictions kept the previous week's rows and they are served here with
-- is_stale = true and their served_snapshot_date: stale and labelled as such, never silently empty.
with

bounds as (

    select min(date_day) as first_date from {{ ref('dim_dates') }}

),

expected as (

    select
        coalesce(
            cast(nullif('{{ scoring_override }}', '') as date),
            max(dates.date_day)
        ) as expected_snapshot_date
    from {{ ref('dim_dates') }} as dates
    cross join bounds
    where
        dates.iso_day_of_week = 1
        and dates.date_day >= bounds.first_date + {{ var('churn_inactivity_days') }}

),

predictions as (

    select * from {{ ref('churn_predictions', v=version) }}

),

served as (

    select max(predictions.snapshot_date) as served_snapshot_date
    from predictions
    cross join expected
    where predictions.snapshot_date <= expected.expected_snapshot_date

)

select
    predictions.user_id,
    predictions.snapshot_date,
    predictions.churn_probability,
    predictions.risk_band,
    predictions.reason_1,
    predictions.reason_2,
    predictions.reason_3,
    predictions.model_version,
    predictions.model_hash,
    served.served_snapshot_date,
    expected.expected_snapshot_date,
    served.served_snapshot_date < expected.expected_snapshot_date as is_stale
from predictions
inner join served
    on predictions.snapshot_date = served.served_snapshot_date
cross join expected
{%- endmacro %}
