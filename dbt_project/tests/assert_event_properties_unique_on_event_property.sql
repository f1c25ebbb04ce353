-- The event_properties seed declares each property of an event once (two rows could declare two types).
-- Returns each duplicated key with its number of rows.
select
    event_name,
    property_name,
    count(*) as occurrences
from {{ ref('event_properties') }}
group by event_name, property_name
having count(*) > 1
