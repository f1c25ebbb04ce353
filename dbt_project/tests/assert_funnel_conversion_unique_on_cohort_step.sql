-- funnel_conversion has one row per (cohort_week, step_order).
-- Returns each duplicated key with its number of rows.
select
    cohort_week,
    step_order,
    count(*) as occurrences
from {{ ref('funnel_conversion') }}
group by cohort_week, step_order
having count(*) > 1
