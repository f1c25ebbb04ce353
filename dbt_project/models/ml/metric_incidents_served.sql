{{ config(materialized='table') }}

-- The contract of metric_incidents (contracts do not apply to Python models): the same rows, every column cast to
-- its declared type. Consumers read this model; the Python model may change shape only together with it.
-- `start`, `end`, `metrics` and `summary` are kept as column names: they are the interface (`end` is reserved).
select
    cast(incident_id as varchar) as incident_id,
    cast(start as timestamp) as start,  -- noqa: RF04
    cast("end" as timestamp) as "end",  -- noqa: RF04, RF06
    cast(first_detected_batch as timestamp) as first_detected_batch,
    cast(raised_batch as timestamp) as raised_batch,
    cast(metrics as varchar) as metrics,  -- noqa: RF04
    cast(grains as varchar) as grains,
    cast(cause as varchar) as cause,
    cast(cause_dim as varchar) as cause_dim,
    cast(cause_value as varchar) as cause_value,
    cast(direction as varchar) as direction,
    cast(peak_metric as varchar) as peak_metric,
    cast(peak_score as double) as peak_score,
    cast(relative_change as double) as relative_change,
    cast(explained_share as double) as explained_share,
    cast(severity as varchar) as severity,
    cast(top_contributors as varchar) as top_contributors,
    cast(segments as varchar) as segments,
    cast(n_points as integer) as n_points,
    cast(n_series as integer) as n_series,
    cast(summary as varchar) as summary,  -- noqa: RF04
    cast(chart_path as varchar) as chart_path
from {{ ref('metric_incidents') }}
