{{
    config(
        materialized=incremental_materialization(),
        unique_key=['flag_key', 'user_id', 'event_hour'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set exposure_events = "'" ~ var('flag_exposure_events') | join("', '") ~ "'" %}
{%- set pre_period = "interval '" ~ var('flag_pre_period_days') ~ "' day" %}
-- Every valid event of a flag's eligible users from var('flag_pre_period_days') days before the flag was first
-- evaluated, counted per flag x user x event hour x arrival hour x event name x variant served (the user's
-- latest exposure of the flag at the event, carried forward; null before the first one) and is_treated (that
-- variant is not an off / control one). The input of the rollout difference-in-differences
-- (pintel.decide.rollouts): per-user counts before and after the change, filtered to what had arrived by any
-- decision hour.
-- Incremental runs rewrite, per flag x user, the event hours from the earliest newly loaded event on (a late
-- exposure changes the variant of every later event; a late event counts in its own hour only); the variant in
-- force at the first rewritten hour comes from the pair's exposures before it. A pair with no exposure loaded
-- before (a newly eligible user) and every pair of a flag first evaluated earlier than the table knew (its
-- pre-period start moved) are rewritten from the start of the pre-period.
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
        min(served_from) as live_at,
        min(served_from) - {{ pre_period }} as kept_from
    from exposures
    group by flag_key

),

whole_histories as (

    -- every eligible pair from the start of its flag's pre-period: a full build's rewrite of each pair
    select
        eligible.flag_key,
        eligible.user_id,
        {{ dbt.date_trunc('hour', 'flags.kept_from') }} as from_hour
    from eligible
    inner join flags
        on eligible.flag_key = flags.flag_key

),

{% if is_incremental() %}
    new_events as (

        select
            message_id,
            user_id,
            event_at,
            event_hour
        from {{ ref('fct_events') }}
        where {{ loaded_since_last_run() }}

    ),

    exposure_loads as (

        select
            exposures.flag_key,
            exposures.user_id,
            exposures.served_from,
            new_events.message_id is not null as is_new
        from exposures
        left join new_events
            on exposures.message_id = new_events.message_id

    ),

    pairs_known as (

        -- when the table last saw each pair first exposed (null: every exposure of the pair is new)
        select
            flag_key,
            user_id,
            min(case when not is_new then served_from end) as known_first_exposed_at
        from exposure_loads
        group by flag_key, user_id

    ),

    flags_known as (

        select
            flag_key,
            min(case when not is_new then served_from end) as known_live_at
        from exposure_loads
        group by flag_key

    ),

    moved_flags as (

        -- new flags, and flags evaluated earlier than the table knew: their pre-period starts earlier
        select flags.flag_key
        from flags
        inner join flags_known
            on flags.flag_key = flags_known.flag_key
        where flags_known.known_live_at is null or flags.live_at < flags_known.known_live_at

    ),

    rewrites as (

        -- whole history: a newly eligible pair, every pair of a moved flag
        select
            whole_histories.flag_key,
            whole_histories.user_id,
            whole_histories.from_hour
        from whole_histories
        inner join pairs_known
            on whole_histories.flag_key = pairs_known.flag_key and whole_histories.user_id = pairs_known.user_id
        where
            pairs_known.known_first_exposed_at is null
            or whole_histories.flag_key in (select moved_flags.flag_key from moved_flags)

        union all

        -- from the hour of the pair's earliest newly loaded event that the flag keeps
        select
            eligible.flag_key,
            eligible.user_id,
            min(new_events.event_hour) as from_hour
        from new_events
        inner join eligible
            on new_events.user_id = eligible.user_id
        inner join flags
            on eligible.flag_key = flags.flag_key
        where new_events.event_at >= flags.kept_from
        group by eligible.flag_key, eligible.user_id

    ),

    pairs as (

        select
            flag_key,
            user_id,
            min(from_hour) as from_hour
        from rewrites
        group by flag_key, user_id

    ),
{% else %}
    pairs as (

        select * from whole_histories

    ),
{% endif %}

exposures_at as (

    -- one exposure per pair and instant, the last by message id when several share it: what a later event was served
    select
        flag_key,
        user_id,
        served_from,
        {{ value_at_max('variant', 'message_id') }} as variant,
        {{ value_at_max('is_treated', 'message_id') }} as is_treated
    from exposures
    group by flag_key, user_id, served_from

),

flag_events as (

    -- the pair's events from its first rewritten hour on; an exposure event of the flag was served its own variant
    select
        pairs.flag_key,
        events.user_id,
        events.event_name,
        events.event_at,
        events.event_hour,
        {{ dbt.date_trunc('hour', 'coalesce(events.received_at, events.event_at)') }} as received_hour,
        events.loaded_at,
        exposures.variant as exposed_variant,
        exposures.is_treated as exposed_treated
    from {{ ref('fct_events') }} as events
    inner join pairs
        on events.user_id = pairs.user_id and events.event_hour >= pairs.from_hour
    inner join flags
        on pairs.flag_key = flags.flag_key
    left join exposures
        on events.message_id = exposures.message_id and pairs.flag_key = exposures.flag_key
    where events.event_at >= flags.kept_from

),

-- every other event was served the pair's latest exposure at or before it (an exposure at the same instant
-- triggered it), looked up among all the pair's exposures, so a rewrite from a later hour needs no seeding
latest_exposures as (

    {{ as_of_left_join(
        'flag_events',
        ['flag_key', 'user_id', 'event_name', 'event_at', 'event_hour', 'received_hour', 'loaded_at',
         'exposed_variant', 'exposed_treated'],
        'exposures_at',
        ['flag_key', 'user_id'],
        'event_at',
        'served_from',
        ['variant', 'is_treated'],
    ) }}

),

served as (

    select
        flag_key,
        user_id,
        event_hour,
        received_hour,
        event_name,
        loaded_at,
        coalesce(exposed_variant, variant) as variant,
        coalesce(exposed_treated, is_treated, false) as is_treated
    from latest_exposures

)

select
    flag_key,
    user_id,
    event_hour,
    received_hour,
    event_name,
    variant,
    is_treated,
    event_name in ({{ exposure_events }}) as is_exposure_event,
    cast(count(*) as bigint) as events,
    max(loaded_at) as loaded_at,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as refreshed_at
from served
group by flag_key, user_id, event_hour, received_hour, event_name, variant, is_treated
