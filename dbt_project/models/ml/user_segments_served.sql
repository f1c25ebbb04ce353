{{ config(materialized='table') }}

-- The contract of user_segments (contracts do not apply to Python models): the same rows, every column cast to its
-- declared type. Consumers read this model; the Python model may change shape only together with it.
select
    cast(user_id as varchar) as user_id,
    cast(segment_id as integer) as segment_id,
    cast(segment_name as varchar) as segment_name,
    cast(window_start as date) as window_start,
    cast(window_end as date) as window_end
from {{ ref('user_segments') }}
