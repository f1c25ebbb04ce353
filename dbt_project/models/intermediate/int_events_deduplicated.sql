{{
    config(
        materialized=incremental_materialization(),
        unique_key='message_id',
        incremental_strategy='delete+insert',
    )
}}

-- Valid messages, one per messageId: the first copy to arrive wins; redeliveries go to int_events_duplicated.
with

valid_messages as (

    select * from {{ ref('stg_segment__tracks') }}
    where quarantine_reason is null and {{ loaded_since_last_run() }}

),

already_kept as (

    {% if is_incremental() %}
        select existing.message_id from {{ this }} as existing
    {% else %}
        select cast(null as {{ dbt.type_string() }}) as message_id
        where false
    {% endif %}

),

repeated_ids as (

    -- the few messageIds that arrived more than once: only their copies need ranking (a window over every
    -- message would sort the whole load, payloads included)
    select message_id
    from valid_messages
    group by message_id
    having count(*) > 1

),

ranked as (

    select
        *,
        row_number() over (
            partition by message_id
            order by received_at nulls last, loaded_at, file_id, file_row_number
        ) as copy_number
    from valid_messages
    where message_id in (select repeated_ids.message_id from repeated_ids)

),

first_copies as (

    select
        *,
        1 as copy_number
    from valid_messages
    where message_id not in (select repeated_ids.message_id from repeated_ids)
    union all
    select * from ranked
    where copy_number = 1

)

select
    raw_row_id,
    file_id,
    source_name,
    loaded_at,
    message_id,
    event_name,
    user_id,
    anonymous_id,
    event_at,
    received_at,
    properties,
    platform,
    app_version,
    country
from first_copies
where message_id not in (select already_kept.message_id from already_kept)
