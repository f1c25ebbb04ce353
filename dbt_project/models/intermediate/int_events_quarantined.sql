{{
    config(
        materialized=incremental_materialization(),
        unique_key='raw_row_id',
        incremental_strategy='delete+insert',
    )
}}

-- Invalid messages, kept with their reason and payload: quarantined, never dropped.
with

tracks as (

    select * from {{ ref('stg_segment__tracks') }}
    where quarantine_reason is not null and {{ loaded_since_last_run() }}

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
    raw_timestamp,
    received_at,
    quarantine_reason,
    left(raw_payload, 2048) as raw_payload_head,
    message_bytes
from tracks
