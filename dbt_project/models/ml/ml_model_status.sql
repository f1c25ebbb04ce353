{{ config(materialized='table') }}

-- The contract of ml_model_runs (contracts do not apply to Python models): one row per ML model with what its
-- latest run did with the data (ok / skipped / stale), why, with the numbers, and when it last ran well.
select
    cast(model_name as varchar) as model_name,
    cast(status as varchar) as status,
    cast(reason as varchar) as reason,
    cast(output_rows as bigint) as output_rows,
    cast(run_at as timestamp) as run_at,
    cast(last_ok_at as timestamp) as last_ok_at,
    status != 'ok' as is_degraded
from {{ ref('ml_model_runs') }}
