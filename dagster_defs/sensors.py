"""A sensor that launches ingestion + build when new landing batches appear, and a daily schedule."""

import json

import dagster as dg
from dagster import SensorEvaluationContext

from dagster_defs.jobs import full_pipeline_job, ingest_and_build_job
from pintel.ingest.landing import discover
from pintel.settings import Settings


@dg.sensor(
    job=ingest_and_build_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches the landing folder (works with `pintel simulate --stream`); one run per set of new files.",
)
def landing_sensor(context: SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Compares the landing folder with the files seen at the last tick; it never opens the warehouse, so it
    cannot contend with a run holding the DuckDB write lock."""
    settings = Settings.from_env()
    if not settings.landing.exists():
        return dg.SkipReason(f"landing folder {settings.landing} does not exist yet")
    files = {str(path): path.stat().st_size for _, path in discover(settings.landing)}
    seen = json.loads(context.cursor) if context.cursor else {}
    new = sorted(p for p, size in files.items() if seen.get(p) != size)
    if not new:
        return dg.SkipReason("no new landing batches")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{len(files)}:{new[-1]}", tags={"pintel/new_files": str(len(new))})],
        cursor=json.dumps(files),
    )


daily_schedule = dg.ScheduleDefinition(
    name="pintel_daily_schedule",
    job=full_pipeline_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The whole pipeline every morning at 06:00 UTC.",
)
