""" "Why did android drop on the 12th?": answered from the incidents the detector raised, never from a guess.

The incident table (``ml.metric_incidents_served``, the contract of ``metric_incidents``) holds one row per
incident with its cause segment, relative change, the share of the total's deviation the cause explains and a
plain-language summary. A why-question is matched to incidents overlapping its period, preferring those whose
cause (or involved segments) is what the question names and whose direction (drop / spike) it asks about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

INCIDENTS = "ml.metric_incidents_served"
COLUMNS = (
    "incident_id",
    "start",
    '"end"',
    "metrics",
    "cause",
    "cause_dim",
    "cause_value",
    "direction",
    "peak_metric",
    "relative_change",
    "explained_share",
    "severity",
    "segments",
    "summary",
)
SEVERITY_RANK = {"critical": 3, "major": 2, "minor": 1}


@dataclass(frozen=True)
class WhyResult:
    incidents: list[dict]  # best first
    sql: str
    missing_table: bool = False


def find_incidents(
    con: duckdb.DuckDBPyConnection,
    start: date | None,
    end: date | None,
    mentions: list[tuple[str, str]],
    direction: str | None,
) -> WhyResult:
    """Incidents overlapping [start, end] (all when None), ranked by how well they fit the question."""
    sql = f"select {', '.join(COLUMNS)} from {INCIDENTS}"
    if start is not None and end is not None:  # dates rendered from date objects (see pintel.ask.query)
        sql += (
            f" where \"end\" >= date '{start.isoformat()}' and start < date '{(end + timedelta(days=1)).isoformat()}'"
        )
    sql += " order by start desc"
    try:
        cursor = con.execute(sql)
    except duckdb.CatalogException:
        return WhyResult([], sql, missing_table=True)
    names = [c[0] for c in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    named = {f"{d}={v}" for d, v in mentions} | {v for _, v in mentions}

    def involved(row: dict) -> set[str]:
        parts = {p.strip() for p in (row.get("segments") or "").split(",") if p.strip()}
        return parts | {p.split("=", 1)[-1] for p in parts}

    def fit(row: dict) -> tuple:
        return (
            row.get("cause") in named or row.get("cause_value") in named,
            bool(named & involved(row)),
            direction is None or row.get("direction") == direction,
            SEVERITY_RANK.get(row.get("severity") or "", 0),
            row.get("start"),
        )

    rows.sort(key=fit, reverse=True)
    if named:
        rows = [r for r in rows if r.get("cause") in named or r.get("cause_value") in named or named & involved(r)]
    if direction is not None:
        rows = [r for r in rows if r.get("direction") == direction]
    return WhyResult(rows, sql)
