-- A step is reached only with the step before it, so users_reached never grows along the funnel.
-- Returns the steps with more users than their previous step.
with

steps as (

    select
        cohort_week,
        step_order,
        users_reached,
        lag(users_reached) over (partition by cohort_week order by step_order) as previous_users_reached
    from {{ ref('funnel_conversion') }}

)

select
    cohort_week,
    step_order,
    users_reached,
    previous_users_reached
from steps
where users_reached > previous_users_reached
