{%- set exposure_events = "'" ~ var('flag_exposure_events') | join("', '") ~ "'" %}
{%- set off_variants = "'" ~ (var('flag_off_variants') + [var('experiment_control_variant')]) | join("', '") ~ "'" %}

-- One row per valid exposure event (a feature flag or experiment evaluated for a user), with the variant it
-- served and when the user's next exposure of the same flag superseded it: the intervals the flag marts join
-- events onto. is_treated = the variant is not one of the off / control variants.
with

exposure_events as (

    select
        message_id,
        user_id,
        event_name as exposure_event,
        event_at,
        coalesce(received_at, event_at) as known_at,
        platform,
        {{ json_text('properties', '$.flag') }} as flag_key,
        {{ json_text('properties', '$.variant') }} as variant
    from {{ ref('fct_events') }}
    where event_name in ({{ exposure_events }})

)

select
    flag_key,
    user_id,
    message_id,
    exposure_event,
    variant,
    variant not in ({{ off_variants }}) as is_treated,
    platform,
    event_at as served_from,
    lead(event_at) over (partition by flag_key, user_id order by event_at, message_id) as served_until,
    known_at
from exposure_events
where flag_key is not null and variant is not null
