-- Every landed track message, typed, with the first validation rule it breaks (null when valid).
-- The reasons and their order are the quarantine_reasons seed; keep the case branches below in that order.
-- Incremental (append): each landed row is judged once, on the run after it lands, and its three consumers read
-- the verdict instead of re-running the rules (a view re-validated every landed row once per consumer).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}

with

source as (

    select * from {{ source('segment', 'events') }}
    where {{ loaded_since_last_run('_loaded_at') }}

),

known_events as (

    select
        event_name,
        null as source_name
    from {{ ref('event_taxonomy') }}
    union all
    select
        event_name,
        source as source_name
    from {{ source('segment', 'custom_events') }}

),

-- the two ways an event is known, one row per key: joined to every message without multiplying it
known_everywhere as (

    select distinct event_name
    from known_events
    where source_name is null

),

known_per_source as (

    select distinct
        event_name,
        source_name
    from known_events
    where source_name is not null

),

property_violations as (

    -- messages carrying a catalogued property of the wrong JSON type, each (message, property) read once. From
    -- the source table itself, with only the columns it needs: a second reference to a CTE of whole messages
    -- makes DuckDB materialise every message first (at 10M messages it spilled past a 3GB memory limit).
    select distinct landed._row_id as raw_row_id
    from {{ source('segment', 'events') }} as landed
    inner join {{ ref('event_properties') }} as expected
        on landed.event = expected.event_name
    where
        {{ loaded_since_last_run('landed._loaded_at') }}
        -- the JSON types a property of each catalogued type may carry, then the one it carries: one read of the
        -- value (a predicate naming it once per type would read it once per type tried). Unknown catalogue
        -- types accept anything; an absent key or JSON null is no violation; invalid JSON is quarantined
        -- as such before this reason is looked at.
        and instr(
            case expected.property_type
                when 'string' then ',string,null,'
                when 'integer' then ',integer,null,'
                when 'number' then ',integer,number,null,'
                when 'boolean' then ',boolean,null,'
            end,
            ','
            || coalesce(
                case
                    when {{ json_is_valid('landed.properties') }}
                        then {{ json_value_type('landed.properties', 'expected.property_name') }}
                end,
                'null'
            )
            || ','
        ) = 0

),

typed as (

    select
        _row_id as raw_row_id,
        _file_id as file_id,
        _row_number as file_row_number,
        _source as source_name,
        _loaded_at as loaded_at,
        coalesce(message_id, _row_id) as message_id,
        message_type,
        event as event_name,
        nullif(trim(user_id), '') as user_id,
        anonymous_id,
        event_timestamp as raw_timestamp,
        {{ parse_timestamp('event_timestamp') }} as event_at,
        {{ parse_timestamp('received_at') }} as received_at,
        properties,
        context,
        raw_line,
        message_bytes,
        is_parseable
        and coalesce({{ json_is_valid('properties') }}, true)
        and coalesce({{ json_is_valid('context') }}, true) as is_valid_json
    from source

),

validated as (

    select
        typed.*,
        case
            when typed.is_valid_json
                then {{ json_texts('typed.context', ['$.platform', '$.app.version', '$.location.country']) }}
        end as context_texts,
        case
            when not typed.is_valid_json then 'invalid_json'
            when typed.message_bytes > {{ var('max_message_bytes') }} then 'oversized_payload'
            -- parenthesised: sqlfluff's duckdb grammar otherwise reads `from 'track'` as a FROM clause
            when (typed.message_type is distinct from 'track') then 'unsupported_message_type'
            when typed.user_id is null then 'missing_user_id'
            when
                typed.event_at is null
                or typed.event_at < cast('{{ var("earliest_valid_timestamp") }}' as timestamp)
                then 'unparseable_timestamp'
            when
                typed.event_at
                > coalesce(typed.received_at, typed.loaded_at)
                + interval '{{ var("future_tolerance_minutes") }}' minute
                then 'future_timestamp'
            when known_everywhere.event_name is null and known_per_source.event_name is null then 'unknown_event'
            when property_violations.raw_row_id is not null then 'wrong_property_type'
        end as quarantine_reason
    from typed
    left join known_everywhere
        on typed.event_name = known_everywhere.event_name
    left join known_per_source
        on
            typed.event_name = known_per_source.event_name
            and typed.source_name = known_per_source.source_name
    left join property_violations
        on typed.raw_row_id = property_violations.raw_row_id

)

select
    raw_row_id,
    file_id,
    file_row_number,
    source_name,
    loaded_at,
    message_id,
    event_name,
    user_id,
    anonymous_id,
    raw_timestamp,
    event_at,
    received_at,
    case when is_valid_json then properties end as properties,
    case when is_valid_json then context end as context,
    {{ list_at('context_texts', 1) }} as platform,
    {{ list_at('context_texts', 2) }} as app_version,
    {{ list_at('context_texts', 3) }} as country,
    coalesce(raw_line, properties) as raw_payload,
    message_bytes,
    quarantine_reason
from validated
