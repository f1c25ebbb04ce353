"""``pintel build``: load whatever has landed into ``raw``, then build the dbt project on top of it.

dbt runs in-process (``dbtRunner``) so Python models share the interpreter and one process holds the DuckDB
write lock at a time. Each warehouse gets its own dbt target folder next to it, so parallel builds of
different warehouses (tests, CI) never share ``manifest.json``.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dbt.cli.main import dbtRunner, dbtRunnerResult

from pintel.ingest.landing import LoadReport, load_landing
from pintel.settings import DBT_PROJECT_DIR, Settings


class BuildError(RuntimeError):
    """dbt failed; the message names the failing nodes."""


@dataclass
class BuildReport:
    load: LoadReport
    seconds_load: float
    seconds_dbt: float
    nodes: dict[str, str] = field(default_factory=dict)


@contextmanager
def _env(settings: Settings) -> Iterator[None]:
    keys = ("PINTEL_WAREHOUSE", "PINTEL_DBT_TARGET", "PINTEL_REPORTS", "DBT_SEND_ANONYMOUS_USAGE_STATS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["PINTEL_WAREHOUSE"] = str(settings.warehouse)
    os.environ["PINTEL_REPORTS"] = str(settings.reports)
    os.environ["PINTEL_DBT_TARGET"] = settings.dbt_target
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_paths(settings: Settings) -> list[str]:
    target = settings.warehouse.parent / "dbt_target"
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        "--target",
        settings.dbt_target,
    ]


def release_duckdb() -> None:
    """Close the DuckDB handle dbt-duckdb caches per process, so readers and the next writer can open the file.

    dbt-duckdb keeps its database open between invocations; DuckDB refuses a second connection with a different
    configuration (e.g. read-only) in the same process, and other processes while this one holds the write lock.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def run_dbt(settings: Settings, args: list[str], quiet: bool = True) -> dbtRunnerResult:
    """Invoke dbt in-process against this warehouse; raise BuildError naming failures."""
    command = [*args, *dbt_paths(settings)]
    if quiet:
        command = ["--quiet", *command]
    with _env(settings):
        try:
            result = dbtRunner().invoke(command)
        finally:
            release_duckdb()
    if not result.success:
        failures = []
        if result.result is not None and hasattr(result.result, "results"):
            failures = [
                f"{r.node.unique_id}: {r.status} {r.message or ''}".strip()
                for r in result.result.results
                if str(r.status) in {"error", "fail", "runtime error"}
            ]
        detail = "; ".join(failures) or str(result.exception or "see dbt logs")
        raise BuildError(f"dbt {' '.join(args)} failed: {detail}")
    return result


def build(
    settings: Settings, select: list[str] | None = None, full_refresh: bool = False, exclude: list[str] | None = None
) -> BuildReport:
    """Load new landing batches, then ``dbt build`` (seeds, snapshots, models and their tests)."""
    started = time.perf_counter()
    load = load_landing(settings.landing, settings.warehouse)
    loaded = time.perf_counter()
    args = ["build"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if select or exclude:
        # Tests that also reference models outside the selection wait for a build that includes those models.
        args += ["--indirect-selection", "cautious"]
    if full_refresh:
        args.append("--full-refresh")
    result = run_dbt(settings, args)
    nodes = {r.node.unique_id: str(r.status) for r in result.result.results}
    return BuildReport(load, loaded - started, time.perf_counter() - loaded, nodes)
