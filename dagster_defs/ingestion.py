"""Landing batches → raw tables (the dbt sources)."""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_defs.resources import PintelResource
from pintel.ingest.landing import load_landing

RAW_TABLES = (
    "events",
    "identifies",
    "ingested_files",
    "custom_events",
    "truth_churn_snapshots",
    "truth_feature_propensities",
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", table],
            group_name="ingestion",
            kinds={"duckdb", "python"},
            description=f"raw.{table}: landed messages as sent (loaded by pintel.ingest.landing).",
            skippable=True,
        )
        for table in RAW_TABLES
    ],
    can_subset=False,
)
def raw_tables(context: AssetExecutionContext, pintel: PintelResource):
    """Load every new landing file; already-loaded files (same path and checksum) are skipped."""
    settings = pintel.settings()
    report = load_landing(settings.landing, settings.warehouse)
    context.log.info(f"loaded {report.new_rows} rows, skipped {report.skipped_files} files already loaded")
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "new_rows": report.loaded_rows.get(table, 0),
                "new_files": report.loaded_files.get(table, 0),
                "skipped_files": report.skipped_files,
                "changed_files": len(report.changed_files),
                "warehouse": str(settings.warehouse),
            },
        )
