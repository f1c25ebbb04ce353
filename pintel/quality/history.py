"""The warehouse-side record of every validation: ``quality.validation_results``.

Validation history lives in the warehouse, next to the data it judges, so it can be queried with the marts
(``select * from quality.validation_results where not success``) and so the row-count suite can compare
today's count with the previous run's. Reading history goes through the caller's read-only connection;
writing is the only place this package opens the DuckDB file read-write, and it does so for one insert.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from pintel import tables
from pintel.quality.results import SuiteResult
from pintel.settings import connect

HISTORY_SCHEMA = "quality"
HISTORY_TABLE = f"{HISTORY_SCHEMA}.validation_results"

DDL = f"""
create schema if not exists {HISTORY_SCHEMA};
create table if not exists {HISTORY_TABLE} (
    run_id varchar not null,
    suite varchar not null,
    asset varchar not null,
    critical boolean not null,
    success boolean not null,
    status varchar not null,
    evaluated integer not null,
    failed integer not null,
    failures_json varchar,
    observed_row_count bigint,
    run_time_seconds double,
    validated_at timestamp not null
);
"""

COLUMNS = (
    "run_id",
    "suite",
    "asset",
    "critical",
    "success",
    "status",
    "evaluated",
    "failed",
    "failures_json",
    "observed_row_count",
    "run_time_seconds",
    "validated_at",
)


def open_warehouse(
    warehouse_path: str | Path, *, read_only: bool, attempts: int = 8, backoff_seconds: float = 0.1
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying briefly while another process holds a conflicting lock.

    Parallel Dagster checks each append their result with a short read-write open; without a retry, a check
    that happens to open the file (even read-only) during a neighbour's insert would fail spuriously.
    Waits at most ~25 s (exponential backoff), then re-raises: a long-held lock is a real problem.
    """
    delay = backoff_seconds
    for attempt in range(1, attempts + 1):
        try:
            return connect(warehouse_path, read_only=read_only)
        except duckdb.IOException as error:
            if attempt == attempts or "lock" not in str(error).lower():
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    """Whether ``schema.table`` (table or view) exists, so optional suites can skip instead of erroring."""
    schema, _, table = qualified_name.rpartition(".")
    return tables.table_exists(con, schema or "main", table)


def previous_row_count(con: duckdb.DuckDBPyConnection, suite: str) -> int | None:
    """The observed row count of ``suite``'s most recent recorded run, or None before the first run.

    The previous run is used whether it passed or failed: a genuine step change (a re-simulation, a backfill)
    then trips the check once and becomes the new baseline, instead of failing forever against a stale one.
    """
    if not table_exists(con, HISTORY_TABLE):
        return None
    row = con.execute(
        f"""
        select observed_row_count from {HISTORY_TABLE}
        where suite = ? and status in ('passed', 'failed') and observed_row_count is not null
        order by validated_at desc
        limit 1
        """,
        [suite],
    ).fetchone()
    return None if row is None else int(row[0])


def record_results(warehouse_path: str | Path, results: Sequence[SuiteResult]) -> int:
    """Append ``results`` to ``quality.validation_results``; return the number of rows written.

    The only read-write open in this package: it creates the schema/table if needed, inserts and closes at
    once. Lock conflicts with a concurrent writer are retried (see :func:`open_warehouse`).
    """
    if not results:
        return 0
    rows = [
        (
            r.run_id,
            r.suite,
            r.asset,
            r.critical,
            r.success,
            r.status,
            r.evaluated,
            r.failed,
            json.dumps(r.failures, default=str),
            r.observed_row_count,
            r.run_time,
            r.validated_at.replace(tzinfo=None),
        )
        for r in results
    ]
    placeholders = ", ".join("?" for _ in COLUMNS)
    insert = f"insert into {HISTORY_TABLE} ({', '.join(COLUMNS)}) values ({placeholders})"
    con = open_warehouse(warehouse_path, read_only=False)
    try:
        con.execute(DDL)
        con.executemany(insert, rows)
    finally:
        con.close()
    return len(rows)
