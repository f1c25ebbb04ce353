"""The pintel code location: `dagster dev -m dagster_defs`."""

import dagster as dg

from dagster_defs.dbt import DBT_ASSETS
from dagster_defs.ingestion import raw_tables
from dagster_defs.jobs import full_pipeline_job, ingest_and_build_job
from dagster_defs.quality import quality_checks
from dagster_defs.reporting import insight_digest
from dagster_defs.resources import RESOURCES
from dagster_defs.sensors import daily_schedule, landing_sensor

ASSETS = [raw_tables, *DBT_ASSETS, insight_digest]
ASSET_KEYS = {key for assets in ASSETS for key in assets.keys}

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=quality_checks(ASSET_KEYS),
    jobs=[ingest_and_build_job, full_pipeline_job],
    schedules=[daily_schedule],
    sensors=[landing_sensor],
    resources=RESOURCES,
    executor=dg.in_process_executor,
)
