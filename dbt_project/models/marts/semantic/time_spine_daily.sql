-- MetricFlow's daily time spine: one row per day of dim_dates, so cumulative metrics (WAU, MAU) and days
-- without activity have a calendar to join to. A view: the calendar itself lives in dim_dates.
{{ config(materialized='view') }}

select date_day
from {{ ref('dim_dates') }}
