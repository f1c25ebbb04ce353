"""Great Expectations suites as Dagster asset checks (filled in with pintel.quality)."""

import dagster as dg

QUALITY_CHECKS: list[dg.AssetChecksDefinition] = []
