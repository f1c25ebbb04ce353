{{ config(materialized='table') }}

-- The contract of metric_incidents (contracts do not apply to Python models): the same rows, every column
-- cast to the data_type declared in metric_incidents_served.yml, in that order (macros/served_contract.sql).
-- Consumers read this model; the Python model may change shape only together with that yml.
{{ served_contract('metric_incidents') }}
