"""``pintel build``: load whatever has landed into ``raw``, then build the dbt project on top of it.

dbt runs in-process (``dbtRunner``) so Python models share the interpreter and one process holds the DuckDB
write lock at a time. Each warehouse gets its own dbt target folder next to it, so parallel builds of
different warehouses (tests, CI) never share ``manifest.json``. Everything dbt needs from
:class:`~pintel.settings.Settings` is on its command line (``--target``, and ``--vars`` with the paths and the
configured vars), never in ``os.environ``: two builds in one process cannot leak settings into each other.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt.cli.main import dbtRunner, dbtRunnerResult

from pintel.dbt_project import parse_vars
from pintel.ingest.landing import LoadReport, load_landing
from pintel.settings import DBT_PROJECT_DIR, Settings, WarehouseLocked, lock_message

#: What a production build leaves out: dbt's unit tests check the models' SQL logic on fixed inputs, so they belong
#: to development and CI (``make test`` runs every one of them once), not to each run on live data (dbt's advice:
#: https://docs.getdbt.com/docs/build/unit-tests, "run unit tests only in development or CI"). Used by
#: :func:`build`, Dagster's dbt assets and the benchmark's build stages.
PRODUCTION_EXCLUDE = ["--exclude-resource-type", "unit_test"]


def production_args(unit_tests: bool = False) -> list[str]:
    """The dbt flags a production ``dbt build`` adds: none with ``unit_tests``, else :data:`PRODUCTION_EXCLUDE`."""
    return [] if unit_tests else list(PRODUCTION_EXCLUDE)


class BuildError(RuntimeError):
    """dbt failed; the message names the failing nodes."""


@dataclass
class BuildReport:
    load: LoadReport
    seconds_load: float
    seconds_dbt: float
    nodes: dict[str, str] = field(default_factory=dict)


def dbt_target_dir(settings: Settings) -> Path:
    """The warehouse's own dbt target folder (beside the DuckDB file; one per profile target): its manifest and
    its ``partial_parse.msgpack``, which lets the next dbt command with the same vars skip a full parse."""
    return settings.warehouse.parent / (
        "dbt_target" if settings.dbt_target == "duckdb" else f"dbt_target_{settings.dbt_target}"
    )


def dbt_paths(settings: Settings) -> list[str]:
    """Project, profile, target and log locations, and the profile target, for a dbt command line."""
    target = dbt_target_dir(settings)
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


def split_vars(args: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """``args`` without their ``--vars`` options, and those vars merged (later ones win, as in dbt)."""
    rest: list[str] = []
    found: dict[str, Any] = {}
    items = iter(args)
    for arg in items:
        if arg == "--vars":
            found.update(parse_vars(next(items, "")))
        elif arg.startswith("--vars="):
            found.update(parse_vars(arg.removeprefix("--vars=")))
        else:
            rest.append(arg)
    return rest, found


def dbt_command(settings: Settings, args: Sequence[str]) -> list[str]:
    """The full dbt argument list for ``args`` against this warehouse.

    ``--vars`` given in ``args`` are merged over :attr:`Settings.dbt_vars` into one ``--vars`` that also carries
    the paths, so a caller's vars never drop the warehouse path (dbt keeps only the last ``--vars``).
    """
    rest, extra = split_vars(args)
    return [*rest, *dbt_paths(settings), *settings.dbt_vars_arg(extra), "--no-send-anonymous-usage-stats"]


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
    command = dbt_command(settings, args)
    if quiet:
        command = ["--quiet", *command]
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
        locked = lock_message(settings.warehouse, detail)
        if locked is not None:
            raise WarehouseLocked(locked)
        raise BuildError(f"dbt {' '.join(args)} failed: {detail}")
    return result


def build(
    settings: Settings,
    select: list[str] | None = None,
    full_refresh: bool = False,
    exclude: list[str] | None = None,
    unit_tests: bool = False,
) -> BuildReport:
    """Load new landing batches, then ``dbt build`` (seeds, snapshots, models and their data tests).

    dbt's unit tests run only with ``unit_tests`` (:func:`production_args`).

    `pintel build` then runs ``dbt source freshness`` (:func:`pintel.quality.freshness.source_freshness`).
    """
    started = time.perf_counter()
    load = load_landing(settings.landing, settings.warehouse)
    if settings.dbt_target == "spark":  # the DuckDB file is the raw ledger; Spark gets its raw tables as Parquet
        from pintel.spark.raw import export_raw, register_args

        run_dbt(settings, register_args(export_raw(settings)))
    loaded = time.perf_counter()
    args = ["build", *production_args(unit_tests)]
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
