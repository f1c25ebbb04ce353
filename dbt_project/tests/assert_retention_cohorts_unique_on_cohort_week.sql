-- retention_cohorts has one row per (cohort_week, week_number).
-- Returns each duplicated key with its number of rows.
select
    cohort_week,
    week_number,
    count(*) as occurrences
from {{ ref('retention_cohorts') }}
group by cohort_week, week_number
having count(*) > 1
