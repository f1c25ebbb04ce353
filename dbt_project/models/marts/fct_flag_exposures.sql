-- One row per feature flag (or experiment) x user who was shown it in any variant: the eligible population of
-- a rollout, with when each user was first shown it, first shown a treated (non-off) variant, and when the
-- warehouse first knew it (received_at), so a decision made at any hour can use only what had arrived.
with

exposures as (

    select * from {{ ref('int_flag_exposures_sequenced') }}

)

select
    flag_key,
    user_id,
    {{ value_at_min('exposure_event', 'served_from') }} as exposure_event,
    {{ value_at_min('platform', 'served_from') }} as platform,
    min(served_from) as first_exposed_at,
    max(served_from) as last_exposed_at,
    min(known_at) as first_known_at,
    {{ value_at_min('variant', 'served_from') }} as first_variant,
    {{ value_at_max('variant', 'served_from') }} as last_variant,
    cast(count(distinct variant) as integer) as variants_seen,
    cast(count(*) as integer) as exposures,
    min(case when is_treated then served_from end) as first_treated_at,
    min(case when is_treated then known_at end) as first_treated_known_at
from exposures
group by flag_key, user_id
