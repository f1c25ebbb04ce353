{{
    config(
        materialized=incremental_materialization(),
        unique_key='raw_row_id',
        incremental_strategy='delete+insert',
    )
}}

-- Redelivered copies of valid messages (same messageId as a message already kept), counted and dropped.
with

valid_messages as (

    select * from {{ ref('stg_segment__tracks') }}
    where quarantine_reason is null and {{ loaded_since_last_run() }}

),

kept as (

    select
        message_id,
        raw_row_id
    from {{ ref('int_events_deduplicated') }}

)

select
    valid_messages.raw_row_id,
    valid_messages.message_id,
    valid_messages.loaded_at,
    valid_messages.received_at,
    kept.raw_row_id as kept_raw_row_id
from valid_messages
inner join kept
    on valid_messages.message_id = kept.message_id
where valid_messages.raw_row_id != kept.raw_row_id
