{{ config(materialized='table') }}

-- The contract of experiment_results (contracts do not apply to Python models): the same rows, every column cast
-- to its declared type. Consumers read this model; the Python model may change shape only together with it.
-- `conversion` and `summary` are DuckDB non-reserved keywords kept as column names: they are the interface.
select
    cast(experiment as varchar) as experiment,
    cast(variant as varchar) as variant,
    cast(control as varchar) as control,
    cast(outcome as varchar) as outcome,
    cast(conversion_event as varchar) as conversion_event,
    cast(window_days as integer) as window_days,
    cast(exposure_start_date as date) as exposure_start_date,
    cast(exposure_end_date as date) as exposure_end_date,
    cast(units as integer) as units,
    cast(control_units as integer) as control_units,
    cast(excluded_multi_variant_units as integer) as excluded_multi_variant_units,
    cast(excluded_incomplete_units as integer) as excluded_incomplete_units,
    cast(conversion as double) as conversion,  -- noqa: RF04
    cast(control_conversion as double) as control_conversion,
    cast(lift_abs as double) as lift_abs,
    cast(lift_abs_ci_low as double) as lift_abs_ci_low,
    cast(lift_abs_ci_high as double) as lift_abs_ci_high,
    cast(lift_rel as double) as lift_rel,
    cast(lift_rel_ci_low as double) as lift_rel_ci_low,
    cast(lift_rel_ci_high as double) as lift_rel_ci_high,
    cast(p_value as double) as p_value,
    cast(cuped_lift_abs as double) as cuped_lift_abs,
    cast(cuped_ci_low as double) as cuped_ci_low,
    cast(cuped_ci_high as double) as cuped_ci_high,
    cast(cuped_p_value as double) as cuped_p_value,
    cast(cuped_theta as double) as cuped_theta,
    cast(variance_reduction as double) as variance_reduction,
    cast(seq_ci_low as double) as seq_ci_low,
    cast(seq_ci_high as double) as seq_ci_high,
    cast(seq_p_value as double) as seq_p_value,
    cast(srm_p_value as double) as srm_p_value,
    cast(srm_detected as boolean) as srm_detected,
    cast(trustworthy as boolean) as trustworthy,
    cast(notes as varchar) as notes,
    cast(summary as varchar) as summary  -- noqa: RF04
from {{ ref('experiment_results') }}
