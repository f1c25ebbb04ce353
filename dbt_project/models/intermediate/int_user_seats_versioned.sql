-- Seat-count history as validity intervals (SCD type 2), one row per period, from the seats trait of identifies.
with

seat_counts as (

    -- one count per user and instant: the last identify by message id when several share it
    select
        user_id,
        identified_at,
        {{ value_at_max('seats', 'message_id') }} as seats
    from {{ ref('stg_segment__identifies') }}
    where seats is not null
    group by user_id, identified_at

),

changes as (

    select
        user_id,
        identified_at,
        seats,
        lag(seats) over (partition by user_id order by identified_at) as previous_seats
    from seat_counts

),

periods as (

    select
        user_id,
        seats,
        identified_at as valid_from,
        lead(identified_at) over (partition by user_id order by identified_at) as valid_to
    from changes
    where previous_seats is null or previous_seats != seats

)

select
    user_id,
    seats,
    valid_from,
    valid_to,
    valid_to is null as is_current
from periods
