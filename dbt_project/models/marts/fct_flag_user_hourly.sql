{%- set exposure_events = "'" ~ var('flag_exposure_events') | join("', '") ~ "'" %}
-- Every valid event of a flag's eligible users from var('flag_pre_period_days') days before the flag was first
-- evaluated, counted per flag x user x event hour x arrival hour x event name x variant served (the user's
-- latest exposure of the flag at the event, carried forward; null before the first one) and is_treated (that
-- variant is not an off / control one). The input of the rollout difference-in-differences
-- (pintel.decide.rollouts): per-user counts before and after the change, filtered to what had arrived by any
-- decision hour.
with

exposures as (

    select * from {{ ref('int_flag_exposures_sequenced') }}

),

eligible as (

    select
        flag_key,
        user_id
    from {{ ref('fct_flag_exposures') }}

),

flags as (

    select
        flag_key,
        min(served_from) as live_at
    from exposures
    group by flag_key

),

flag_events as (

    select
        eligible.flag_key,
        events.user_id,
        events.message_id,
        events.event_name,
        events.event_at,
        events.event_hour,
        {{ dbt.date_trunc('hour', 'coalesce(events.received_at, events.event_at)') }} as received_hour,
        exposures.variant as exposed_variant,
        exposures.is_treated as exposed_treated
    from {{ ref('fct_events') }} as events
    inner join eligible
        on events.user_id = eligible.user_id
    inner join flags
        on eligible.flag_key = flags.flag_key
    left join exposures
        on events.message_id = exposures.message_id and eligible.flag_key = exposures.flag_key
    where events.event_at >= flags.live_at - interval '{{ var("flag_pre_period_days") }}' day

),

served as (

    select
        flag_key,
        user_id,
        event_hour,
        received_hour,
        event_name,
        -- an exposure sorts before the event that triggered it (same timestamp): that event was served it
        {{ last_non_null('exposed_variant') }} over (
            partition by flag_key, user_id
            order by event_at, exposed_variant is null, message_id
            rows between unbounded preceding and current row
        ) as variant,
        {{ last_non_null('exposed_treated') }} over (
            partition by flag_key, user_id
            order by event_at, exposed_variant is null, message_id
            rows between unbounded preceding and current row
        ) as is_treated
    from flag_events

)

select
    flag_key,
    user_id,
    event_hour,
    received_hour,
    event_name,
    variant,
    coalesce(is_treated, false) as is_treated,
    event_name in ({{ exposure_events }}) as is_exposure_event,
    cast(count(*) as bigint) as events
from served
group by flag_key, user_id, event_hour, received_hour, event_name, variant, coalesce(is_treated, false)
