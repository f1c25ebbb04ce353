{{ config(materialized='table') }}

-- The contract of feature_recommendations (contracts do not apply to Python models): the same rows, every column
-- cast to the data_type declared in feature_recommendations_served.yml, in that order (macros/served_contract.sql).
{{ served_contract('feature_recommendations') }}
