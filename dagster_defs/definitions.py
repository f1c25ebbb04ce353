"""The pintel code location: `dagster dev -m dagster_defs`."""

import dagster as dg

from dagster_defs.actions import actions
from dagster_defs.dbt import DBT_ASSETS, source_tables
from dagster_defs.decisions import action_outcomes, data_quality_escalation, decide_after_failed_quality, decisions
from dagster_defs.freshness import freshness_checks
from dagster_defs.ingestion import raw_tables
from dagster_defs.jobs import full_pipeline_job, ingest_and_build_job
from dagster_defs.quality import quality_checks
from dagster_defs.reporting import insight_digest
from dagster_defs.resources import RESOURCES
from dagster_defs.sensors import daily_schedule, landing_sensor

ASSETS = [raw_tables, *DBT_ASSETS, insight_digest, decisions, action_outcomes, actions]
ASSET_KEYS = {key for assets in ASSETS for key in assets.keys}

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[*quality_checks(ASSET_KEYS), freshness_checks(source_tables())],
    jobs=[ingest_and_build_job, full_pipeline_job, decide_after_failed_quality],
    schedules=[daily_schedule],
    sensors=[landing_sensor, data_quality_escalation],
    resources=RESOURCES,
    executor=dg.in_process_executor,
)
