"""``dbt source freshness`` as pintel runs it: every raw source, its newest arrival, and pass / warn / error.

The thresholds are the sources' ``freshness`` blocks (``dbt_project/models/staging/_segment__sources.yml``, from
the vars ``freshness_warn_after_hours`` / ``freshness_error_after_hours``); this module only runs dbt and reads
its results, so the rule lives in dbt alone. ``pintel build`` prints one line per source after the build, and
the Dagster code location turns each result into an asset check on its raw asset. A stale source does not fail
a build: the data is still what it is, and the freshness incident (``marts.data_freshness``) says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pintel.settings import Settings

__all__ = [
    "FEED",
    "FRESHNESS_TABLE",
    "SourceFreshness",
    "describe_feed",
    "freshness_lines",
    "read_feed",
    "source_freshness",
]

FRESHNESS_TABLE = "marts.data_freshness"
FEED = "events:all"
"""The ``data_freshness`` row of the feed every metric series is built from (all events, every export)."""


def read_feed(con: Any, name: str = FEED) -> dict[str, Any] | None:
    """The ``marts.data_freshness`` source row ``name`` as a dict (None before the mart is built)."""
    from pintel.tables import table_exists

    schema, table = FRESHNESS_TABLE.split(".")
    if not table_exists(con, schema, table):
        return None
    rows = con.execute(f"select * from {FRESHNESS_TABLE} where scope = 'source' and name = ?", [name]).df()
    return None if rows.empty else rows.iloc[0].to_dict()


def describe_feed(row: dict[str, Any] | None) -> str:
    """How fresh the data is, in one phrase: ``stale: complete to 2026-12-01 10:00 UTC, newest arrival 8.0 h ago``."""
    if row is None:
        return "unknown (marts.data_freshness not built)"
    until = f"{row['complete_until']:%Y-%m-%d %H:%M} UTC"
    if row["status"] == "closed":
        return f"closed export: complete to {until} (newest event {row['latest_event_at']:%Y-%m-%d %H:%M} UTC)"
    return f"{row['status']}: complete to {until}, newest arrival {float(row['arrival_age_hours']):.1f} h ago"


@dataclass(frozen=True)
class SourceFreshness:
    """One source table's freshness as dbt measured it."""

    source: str  # "segment.events"
    table: str  # "events" (the raw table; the Dagster asset raw/<table>)
    status: str  # pass | warn | error | runtime error
    max_loaded_at: datetime | None
    age_hours: float | None
    warn_after_hours: float | None
    error_after_hours: float | None
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def line(self) -> str:
        """``segment.events: error -- newest row 2025-04-05 23:59 UTC, 8.0 h ago (warn 2 h, error 6 h)``."""
        if self.max_loaded_at is None or self.age_hours is None:
            return f"{self.source}: {self.status} -- {self.message or 'no rows to measure'}"
        limits = f"warn {self.warn_after_hours:g} h, error {self.error_after_hours:g} h"
        return (
            f"{self.source}: {self.status} -- newest row {self.max_loaded_at:%Y-%m-%d %H:%M} UTC, "
            f"{self.age_hours:,.1f} h ago ({limits})"
        )


def _hours(threshold: object) -> float | None:
    count, period = getattr(threshold, "count", None), getattr(threshold, "period", None)
    if count is None or period is None:
        return None
    return float(count) * {"minute": 1 / 60, "hour": 1.0, "day": 24.0}[str(getattr(period, "value", period))]


def source_freshness(settings: Settings, select: list[str] | None = None) -> list[SourceFreshness]:
    """Run ``dbt source freshness`` in-process on this warehouse; one result per source table (stale is a result,
    not an exception; a dbt failure to run at all raises :class:`pintel.build.BuildError`)."""
    from dbt.cli.main import dbtRunner

    from pintel.build import BuildError, dbt_command, release_duckdb

    args = ["source", "freshness"] + (["--select", *select] if select else [])
    try:
        result = dbtRunner().invoke(["--quiet", "--log-level", "none", *dbt_command(settings, args)])
    finally:
        release_duckdb()
    results = getattr(result.result, "results", None)
    if results is None:
        raise BuildError(f"dbt source freshness did not run: {result.exception or 'see dbt logs'}")
    out = []
    for r in results:
        node = r.node
        if str(getattr(node.resource_type, "value", node.resource_type)) != "source":
            continue  # the project's on-run-start/end hooks report beside the sources
        freshness = node.freshness
        age = getattr(r, "age", None)
        loaded = getattr(r, "max_loaded_at", None)
        if loaded is not None and loaded.year < 1970:  # dbt's answer for an empty table
            loaded, age = None, None
        out.append(
            SourceFreshness(
                source=f"{node.source_name}.{node.name}",
                table=node.name,
                status=str(getattr(r.status, "value", r.status)),
                max_loaded_at=loaded.replace(tzinfo=None) if loaded is not None else None,
                age_hours=float(age) / 3600 if age is not None else None,
                warn_after_hours=_hours(freshness.warn_after) if freshness else None,
                error_after_hours=_hours(freshness.error_after) if freshness else None,
                message=str(getattr(r, "message", "") or "") or ("empty table" if loaded is None else ""),
            )
        )
    return sorted(out, key=lambda f: f.source)


def freshness_lines(results: list[SourceFreshness]) -> list[str]:
    """``source freshness:`` and one indented line per source."""
    return ["source freshness (dbt source freshness):", *(f"  {r.line()}" for r in results)]
