-- Retention counts are nested sets: retained (week N) <= retained or later <= eligible (week N observed)
-- <= cohort. Returns the cohort-weeks that break it.
select
    cohort_week,
    week_number,
    retained_users,
    retained_or_later_users,
    eligible_users,
    cohort_users
from {{ ref('retention_cohorts') }}
where not (
    retained_users <= retained_or_later_users
    and retained_or_later_users <= eligible_users
    and eligible_users <= cohort_users
)
