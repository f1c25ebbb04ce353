-- Conservation: every landed track row ends up in exactly one of deduplicated (valid, first copy),
-- quarantined (invalid) or duplicated (redelivered copy). Returns one row when rows were lost or doubled.
with

counts as (

    select
        (select count(*) as n from {{ source('segment', 'events') }}) as raw_rows,
        (select count(*) as n from {{ ref('int_events_deduplicated') }}) as deduplicated_rows,
        (select count(*) as n from {{ ref('int_events_quarantined') }}) as quarantined_rows,
        (select count(*) as n from {{ ref('int_events_duplicated') }}) as duplicated_rows

)

select
    raw_rows,
    deduplicated_rows,
    quarantined_rows,
    duplicated_rows,
    raw_rows - (deduplicated_rows + quarantined_rows + duplicated_rows) as unaccounted_rows
from counts
where raw_rows != deduplicated_rows + quarantined_rows + duplicated_rows
