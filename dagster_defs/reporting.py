"""User-facing outputs built from the marts; they never materialise on data that failed a blocking check.

``reports/insight_digest`` is the one digest (``reports/digest.html`` and ``.md``, charts under
``reports/digest/``); the logic is :mod:`pintel.digest`. Its provenance check runs inside the build: a number in
the text that is not in the tables it read fails the asset, and the last good digest stays in place.
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_defs.resources import PintelResource
from pintel.digest import write_digest

#: What the digest reads. The decision engine's tables (``decide.decisions``, ``decide.action_outcomes``) are
#: read when they exist; their asset joins this list once the engine is part of the code location.
DIGEST_INPUTS = [
    ["marts", "active_users_daily"],
    ["marts", "signups_daily"],
    ["marts", "retention_cohorts"],
    ["marts", "fct_events"],
    ["ml", "metric_anomalies"],
    ["ml", "metric_incidents_served"],
    ["ml", "experiment_results_served"],
    ["ml", "user_segments_served"],
    ["ml", "churn_scores_v2"],
    ["ml", "ml_model_status"],
    ["decide", "decisions"],
    ["act", "actions"],
]


@dg.asset(
    key=["reports", "insight_digest"],
    deps=DIGEST_INPUTS,
    group_name="reports",
    kinds={"html", "markdown"},
    description=(
        "The insight digest (reports/digest.html and digest.md): KPI trends with anomaly bands, retention heatmap, "
        "churn risk by segment, experiments with intervals, decisions and their outcomes; provenance-checked."
    ),
)
def insight_digest(context: AssetExecutionContext, pintel: PintelResource) -> dg.MaterializeResult:
    settings = pintel.settings()
    digest, paths = write_digest(settings.warehouse, settings.reports)
    context.log.info(digest.markdown)
    return dg.MaterializeResult(
        metadata={
            "digest": dg.MetadataValue.md(digest.markdown),
            "html": dg.MetadataValue.path(str(paths["html"])),
            "path": dg.MetadataValue.path(str(paths["markdown"])),
            "numbers_checked": digest.numbers_checked,
            "tables_read": dg.MetadataValue.json(digest.evidence.tables()),
            "sections": [s.key for s in digest.sections],
        }
    )
