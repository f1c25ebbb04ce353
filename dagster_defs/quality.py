"""Great Expectations suites as Dagster asset checks; critical suites are blocking.

dagster-ge only supports GX 0.x, so each check runs a stored GX 1.x validation definition through
``pintel.quality.run_suite`` (pandas datasource over a read-only DuckDB read) and reports the expectations
and offending rows as check metadata. A failing blocking check stops downstream assets in the same run.
"""

import dagster as dg
from dagster import AssetCheckExecutionContext

from dagster_defs.resources import PintelResource
from pintel.quality import SUITES, run_suite


def _asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _build_check(name: str) -> dg.AssetChecksDefinition:
    spec = SUITES[name]

    @dg.asset_check(
        name=f"gx_{name}",
        asset=_asset_key(spec.asset),
        blocking=spec.critical,
        description=f"Great Expectations suite '{name}': {spec.description}",
    )
    def _check(context: AssetCheckExecutionContext, pintel: PintelResource) -> dg.AssetCheckResult:
        settings = pintel.settings()
        result = run_suite(settings.warehouse, name, dbt_vars=settings.dbt_vars)
        if result.status == "failed":
            context.log.error(f"{name}: {result.failed} of {result.evaluated} expectations failed")
        return dg.AssetCheckResult(
            passed=bool(result.success),
            severity=dg.AssetCheckSeverity.ERROR if spec.critical else dg.AssetCheckSeverity.WARN,
            metadata=result.to_metadata(),
        )

    return _check


def quality_checks(asset_keys: set[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """One check per suite whose guarded table is an asset of this code location."""
    return [_build_check(name) for name, spec in SUITES.items() if _asset_key(spec.asset) in asset_keys]
