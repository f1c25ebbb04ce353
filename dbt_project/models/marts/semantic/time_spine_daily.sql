-- MetricFlow's daily time spine: one row per day of dim_dates, so cumulative metrics (WAU, MAU) and days
-- without activity have a calendar to join to. The calendar itself lives in dim_dates; this is its copy of the days.
-- A table, not a view: DuckDB stores a view with the build's catalog name (the warehouse file's name), so a view
-- would break every reader of a copied or renamed warehouse file ("Catalog pintel does not exist").
{{ config(materialized='table') }}

select date_day
from {{ ref('dim_dates') }}
