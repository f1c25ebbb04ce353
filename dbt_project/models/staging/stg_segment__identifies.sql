-- identify calls with their traits typed; the source of plan history and user attributes.
with

source as (

    select * from {{ source('segment', 'identifies') }}

),

typed as (

    select
        _row_id as raw_row_id,
        _loaded_at as loaded_at,
        coalesce(message_id, _row_id) as message_id,
        nullif(trim(user_id), '') as user_id,
        {{ parse_timestamp('event_timestamp') }} as identified_at,
        case when {{ json_is_valid('traits') }} then traits end as traits
    from source
    where is_parseable

)

select
    raw_row_id,
    loaded_at,
    message_id,
    user_id,
    identified_at,
    {{ json_text('traits', '$.plan') }} as plan,
    {{ json_text('traits', '$.company_size') }} as company_size,
    {{ json_text('traits', '$.country') }} as country,
    {{ json_text('traits', '$.channel') }} as signup_channel,
    try_cast({{ json_text('traits', '$.seats') }} as integer) as seats,
    {{ parse_timestamp(json_text('traits', '$.created_at')) }} as created_at
from typed
where user_id is not null and identified_at is not null
