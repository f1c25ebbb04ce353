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

known_messages as (

    -- messages whose event is in the taxonomy, or registered for their source (a join: correlated subqueries
    -- inside an expression do not run on every engine)
    select distinct typed.raw_row_id
    from typed
    inner join known_events
        on
            typed.event_name = known_events.event_name
            and (known_events.source_name is null or typed.source_name = known_events.source_name)

),

property_types as (

    -- the JSON type of each catalogued property a message carries, read once per (message, property)
    select
        typed.raw_row_id,
        expected.property_type,
        {{ json_value_type('typed.properties', 'expected.property_name') }} as actual_type
    from typed
    inner join {{ ref('event_properties') }} as expected
        on typed.event_name = expected.event_name
    where typed.is_valid_json

),

property_violations as (

    select distinct raw_row_id
    from property_types
    where
        coalesce(actual_type, 'null') != 'null'
        and not (
            case property_type
                when 'string' then actual_type = 'string'
                when 'integer' then actual_type = 'integer'
                when 'number' then actual_type in ('integer', 'number')
                when 'boolean' then actual_type = 'boolean'
                else true
            end
        )

),

validated as (

    select
        typed.*,
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
            when known_messages.raw_row_id is null then 'unknown_event'
            when property_violations.raw_row_id is not null then 'wrong_property_type'
        end as quarantine_reason
    from typed
    left join known_messages
        on typed.raw_row_id = known_messages.raw_row_id
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
    case when is_valid_json then {{ json_text('context', '$.platform') }} end as platform,
    case when is_valid_json then {{ json_text('context', '$.app.version') }} end as app_version,
    case when is_valid_json then {{ json_text('context', '$.location.country') }} end as country,
    coalesce(raw_line, properties) as raw_payload,
    message_bytes,
    quarantine_reason
from validated
