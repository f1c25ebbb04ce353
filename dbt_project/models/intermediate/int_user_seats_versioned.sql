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

{{ identify_trait_periods('seat_counts', 'seats') }}
