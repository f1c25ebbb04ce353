-- A user active today is active in the trailing 7 days, and one active in the trailing 7 days is active in the
-- trailing 28: DAU <= WAU <= MAU on every day and segment. Returns the rows that break the order.
select
    activity_date,
    segment_dim,
    segment_value,
    dau,
    wau,
    mau
from {{ ref('active_users_daily') }}
where not (dau <= wau and wau <= mau)
