-- fct_events is int_events_deduplicated enriched one-to-one: the feature join must not fan out and the
-- incremental filter must not skip anything. Returns one row when the counts differ.
with

counts as (

    select
        (select count(*) as n from {{ ref('int_events_deduplicated') }}) as deduplicated_rows,
        (select count(*) as n from {{ ref('fct_events') }}) as fct_events_rows

)

select
    deduplicated_rows,
    fct_events_rows,
    fct_events_rows - deduplicated_rows as difference
from counts
where deduplicated_rows != fct_events_rows
