-- plan_movements_daily has one row per (movement_date, movement).
-- Returns each duplicated key with its number of rows.
select
    movement_date,
    movement,
    count(*) as occurrences
from {{ ref('plan_movements_daily') }}
group by movement_date, movement
having count(*) > 1
