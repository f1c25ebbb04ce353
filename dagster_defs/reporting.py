"""User-facing outputs built from the marts; they never materialise on data that failed a blocking check."""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_defs.resources import PintelResource
from pintel.narratives.digest import build_digest


@dg.asset(
    key=["reports", "metrics_digest"],
    deps=[
        ["marts", "active_users_daily"],
        ["marts", "signups_daily"],
        ["marts", "retention_cohorts"],
        ["marts", "fct_events"],
    ],
    group_name="reports",
    kinds={"markdown"},
    description="A plain-language weekly digest of the product metrics (reports/digest.md).",
)
def metrics_digest(context: AssetExecutionContext, pintel: PintelResource) -> dg.MaterializeResult:
    settings = pintel.settings()
    text = build_digest(settings.warehouse)
    path = settings.reports / "digest.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    context.log.info(text)
    return dg.MaterializeResult(metadata={"digest": dg.MetadataValue.md(text), "path": str(path)})
