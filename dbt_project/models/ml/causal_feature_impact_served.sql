{{ config(materialized='table') }}

-- The contract of causal_feature_impact (contracts do not apply to Python models): the same rows, every column
-- cast to the data_type declared in causal_feature_impact_served.yml, in that order (macros/served_contract.sql).
-- Consumers read this model; the Python model may change shape only together with that yml.
{{ served_contract('causal_feature_impact') }}
