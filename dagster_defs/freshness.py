"""dbt source freshness as asset checks: one ``source_freshness`` check per raw asset (raw/<table>).

One ``dbt source freshness`` run (:func:`pintel.quality.freshness.source_freshness`) answers for every source;
each raw asset gets its own check result -- passed when dbt says ``pass``, a WARN-severity failure on ``warn``,
an ERROR-severity failure on ``error`` -- with the newest row and its age as metadata. Non-blocking: stale data
is still the data there is; the decision engine escalates instead of acting on it (marts.data_freshness).
"""

from collections.abc import Iterator

import dagster as dg

from dagster_defs.resources import PintelResource
from pintel.quality.freshness import source_freshness

CHECK = "source_freshness"


def freshness_checks(source_tables: list[str]) -> dg.AssetChecksDefinition:
    """The multi-check over ``raw/<table>`` for every dbt source table."""
    specs = [
        dg.AssetCheckSpec(
            CHECK,
            asset=dg.AssetKey(["raw", table]),
            description=f"dbt source freshness of segment.{table}: its newest row against the warn/error hours.",
        )
        for table in source_tables
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="raw_source_freshness")
    def _checks(context: dg.AssetCheckExecutionContext, pintel: PintelResource) -> Iterator[dg.AssetCheckResult]:
        wanted = {key.asset_key.path[-1] for key in context.selected_asset_check_keys}
        for result in source_freshness(pintel.settings()):
            if result.table not in wanted:
                continue
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(["raw", result.table]),
                check_name=CHECK,
                passed=result.passed,
                severity=dg.AssetCheckSeverity.ERROR if result.status != "warn" else dg.AssetCheckSeverity.WARN,
                description=result.line(),
                metadata={
                    "status": result.status,
                    "newest_row": str(result.max_loaded_at) if result.max_loaded_at else "none",
                    "age_hours": result.age_hours if result.age_hours is not None else -1.0,
                    "warn_after_hours": result.warn_after_hours or 0.0,
                    "error_after_hours": result.error_after_hours or 0.0,
                },
            )

    return _checks
