-- Plan history as validity intervals (SCD type 2), one row per plan period, from identify traits.
with

identifies as (

    select
        user_id,
        identified_at,
        plan
    from {{ ref('stg_segment__identifies') }}
    where plan is not null

),

{{ identify_trait_periods('identifies', 'plan') }}
