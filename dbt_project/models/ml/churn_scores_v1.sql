{{ config(materialized='table') }}

-- Churn scores of model v1 as served to consumers (see macros/served_churn_scores.sql).
-- depends_on: {{ ref('churn_predictions', v=1) }}
{{ served_churn_scores(1) }}
