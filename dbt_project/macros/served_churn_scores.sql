{#- The served churn scores of one churn_predictions version (shared by churn_scores_v1 and _v2). -#}
{% macro served_churn_scores(version) -%}

-- Churn scores of one model version as served to consumers: the latest stored predictions on or before the
-- snapshot that should be scored (dim_dates.churn_scoring_snapshot_date, the one home of that rule). When that
-- snapshot had no users, churn_predictions kept the previous week's rows and they are served here with
-- is_stale = true and their served_snapshot_date: stale and labelled as such, never silently empty.
with

expected as (

    select max(churn_scoring_snapshot_date) as expected_snapshot_date
    from {{ ref('dim_dates') }}

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
