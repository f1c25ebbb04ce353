"""Jobs. Everything that writes the single-writer DuckDB file runs in one process, one step at a time."""

import dagster as dg

WAREHOUSE_SELECTION = dg.AssetSelection.groups("ingestion", "seeds", "staging", "intermediate", "marts")

ingest_and_build_job = dg.define_asset_job(
    "ingest_and_build",
    selection=WAREHOUSE_SELECTION,
    description="Load new landing batches into raw and build the warehouse, with its tests and quality gates.",
    executor_def=dg.in_process_executor,
    tags={"dagster/max_runtime": 3600},
)

full_pipeline_job = dg.define_asset_job(
    "pintel_daily",
    selection=dg.AssetSelection.all(),
    description="Everything: ingestion, warehouse, quality gates, ML, decisions and actions.",
    executor_def=dg.in_process_executor,
)
