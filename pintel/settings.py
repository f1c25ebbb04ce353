"""Where things live and how a run is configured: the one place pintel reads its environment.

``PINTEL_HOME``             root for local data (default ``./data``)
``PINTEL_LANDING``          landing folder for batches (default ``$PINTEL_HOME/landing``)
``PINTEL_WAREHOUSE``        DuckDB file (default ``$PINTEL_HOME/pintel.duckdb``)
``PINTEL_DBT_TARGET``       dbt profile target (default ``duckdb``; ``spark`` builds on local PySpark)
``PINTEL_SPARK_HOME``       Spark target's tables and metastore (default ``$PINTEL_HOME/spark``)
``PINTEL_DBT_VARS``         dbt ``--vars`` for every run, YAML or JSON (default none): e.g. ``{churn_horizon_days: 14}``
``PINTEL_REPORTS``          reports folder (default ``./reports``)
``PINTEL_SEEDS_DIR``        seed catalog the Python code reads (default the repository's ``seeds/``)
``PINTEL_EXPECTATIONS_DIR`` Great Expectations project root (default the repository's ``expectations/``)
``PINTEL_DUCKDB_MEMORY_LIMIT``  DuckDB ``memory_limit`` of every connection, dbt's included (default ``3GB``)
``PINTEL_DUCKDB_THREADS``       DuckDB ``threads`` (default ``2``)
``PINTEL_DUCKDB_TEMP_DIRECTORY`` where DuckDB spills what does not fit (default ``<warehouse>.tmp`` beside the file)
``PINTEL_DQ_BATCH_ROWS``    most rows GX validates in one pandas batch; bigger suites run in partitions (default 2M)
``PINTEL_CAUSAL_WORKERS``   processes estimating the causal feature-impact rows (default the cores, at most 4)

Nothing in pintel writes ``os.environ``. What dbt needs from here reaches it explicitly on every invocation:
the target as ``--target`` and the paths as dbt vars (:meth:`Settings.dbt_vars_for_run`): the profile reads
``var('pintel_warehouse')`` for the DuckDB file and the dbt Python models read ``var('pintel_reports')`` (through
``config.meta``) for the folder their charts go to. That holds for the in-process ``pintel build`` and for the
dbt subprocess Dagster starts alike.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pintel.dbt_project import DBT_PROJECT_DIR, REPO_ROOT, parse_vars, project_vars

if TYPE_CHECKING:  # pandas only for the annotation: importing settings (e.g. from the catalog) stays light
    import pandas as pd

__all__ = [
    "DBT_PROJECT_DIR",
    "DQ_BATCH_ROWS",
    "DUCKDB_VARS",
    "REPORTS_VAR",
    "REPO_ROOT",
    "SPARK_HOME_VAR",
    "TEMP_DIRECTORY_VAR",
    "WAREHOUSE_VAR",
    "DuckDBResources",
    "Settings",
    "WarehouseLocked",
    "configure",
    "connect",
    "lock_message",
    "query",
]

WAREHOUSE_VAR = "pintel_warehouse"
"""dbt var carrying the DuckDB file to the profile (``dbt_project/profiles.yml``)."""
REPORTS_VAR = "pintel_reports"
"""dbt var carrying the reports folder to the dbt Python models (``config: meta: reports_dir``)."""
SPARK_HOME_VAR = "pintel_spark_home"
"""dbt var carrying the Spark target's folder (warehouse dir, metastore) to the profile."""
DUCKDB_VARS = {"memory_limit": "pintel_duckdb_memory_limit", "threads": "pintel_duckdb_threads"}
"""dbt vars carrying :class:`DuckDBResources` to the profile's ``settings`` (and the spill folder, below)."""
TEMP_DIRECTORY_VAR = "pintel_duckdb_temp_directory"
"""dbt var carrying a configured spill folder to the project's on-run-start hook (``macros/set_spill_folder.sql``);
unset, DuckDB spills to its default, ``<database>.tmp`` beside the file."""

DQ_BATCH_ROWS = 2_000_000
"""Most rows one GX batch (a pandas frame) may hold; a suite over more is validated in hash partitions.

Derived from a memory budget: GX's working set for a batch is the frame plus GX's own copies (a whole-frame hash
for the batch fingerprint under 1 GB, ~1.45x the frame; ``dropna`` copies for column-pair and compound
expectations): measured at ~0.35 GiB per million rows on the widest big suite (``fct_events``, 9 columns) at 10M
events. 1 GiB for that working set, beside DuckDB's own 3 GB cap, under the 4 GiB a stage may use, allows ~2.9M
rows; 2M leaves room for wider custom suites. ``PINTEL_DQ_BATCH_ROWS`` overrides it."""


@dataclass(frozen=True)
class DuckDBResources:
    """What one DuckDB database may use: the same for dbt's connection and every connection pintel opens.

    ``memory_limit`` caps DuckDB's buffer manager only (DuckDB's docs: some operators allocate outside it), so
    the default, 3 GB, leaves room under a 4 GiB process on a shared 24 GiB box; what does not fit spills to
    ``temp_directory`` (None = DuckDB's own default, ``<database>.tmp`` beside the file) instead of the process
    being killed. ``threads`` is per database: dbt's model threads share it.
    """

    memory_limit: str = "3GB"
    threads: int = 2
    temp_directory: Path | None = None

    @classmethod
    def from_env(cls) -> DuckDBResources:
        env = os.environ
        temp = env.get("PINTEL_DUCKDB_TEMP_DIRECTORY")
        return cls(
            memory_limit=env.get("PINTEL_DUCKDB_MEMORY_LIMIT") or cls.memory_limit,
            threads=int(env.get("PINTEL_DUCKDB_THREADS") or cls.threads),
            temp_directory=Path(temp).resolve() if temp else None,
        )

    def statements(self) -> list[str]:
        """``SET`` statements applying the memory and thread limits to a connection's database.

        The spill folder is not among them: DuckDB refuses to set it again once anything spilled ("Cannot switch
        temporary directory after the current one has been used"), even to the same folder, and every cursor of
        an open database shares it. :func:`configure` sets it only where it differs; dbt's profile does not set it
        per cursor either (the project's on-run-start hook ``set_spill_folder`` sets it once).
        """
        return [f"set memory_limit = '{self.memory_limit}'", f"set threads = {int(self.threads)}"]


@dataclass(frozen=True)
class Settings:
    """Paths and run configuration. Build one with :meth:`from_env`; tests and benchmarks construct it directly."""

    home: Path
    landing: Path
    warehouse: Path
    dbt_target: str
    reports: Path
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)
    spark_home: Path | None = None
    seeds: Path = REPO_ROOT / "seeds"
    expectations: Path = REPO_ROOT / "expectations"
    duckdb: DuckDBResources = field(default_factory=DuckDBResources)
    dq_batch_rows: int = DQ_BATCH_ROWS

    @classmethod
    def from_env(
        cls,
        warehouse: str | Path | None = None,
        landing: str | Path | None = None,
        *,
        reports: str | Path | None = None,
        dbt_vars: str | Mapping[str, Any] | None = None,
    ) -> Settings:
        """Settings from the ``PINTEL_*`` environment variables; explicit arguments win over them.

        ``dbt_vars`` (a mapping, or ``--vars`` text) replaces ``$PINTEL_DBT_VARS``; either is validated here, so
        a malformed value fails before any work starts.
        """
        env = os.environ
        home = Path(env.get("PINTEL_HOME", "data")).resolve()
        return cls(
            home=home,
            landing=Path(landing or env.get("PINTEL_LANDING", home / "landing")).resolve(),
            warehouse=Path(warehouse or env.get("PINTEL_WAREHOUSE", home / "pintel.duckdb")).resolve(),
            dbt_target=env.get("PINTEL_DBT_TARGET", "duckdb"),
            reports=Path(reports or env.get("PINTEL_REPORTS", "reports")).resolve(),
            dbt_vars=parse_vars(dbt_vars if dbt_vars is not None else env.get("PINTEL_DBT_VARS")),
            seeds=Path(env.get("PINTEL_SEEDS_DIR") or REPO_ROOT / "seeds").resolve(),
            expectations=Path(env.get("PINTEL_EXPECTATIONS_DIR") or REPO_ROOT / "expectations").resolve(),
            spark_home=Path(env.get("PINTEL_SPARK_HOME") or home / "spark").resolve(),
            duckdb=DuckDBResources.from_env(),
            dq_batch_rows=_positive_int("PINTEL_DQ_BATCH_ROWS", env.get("PINTEL_DQ_BATCH_ROWS"), DQ_BATCH_ROWS),
        )

    def with_vars(self, **overrides: Any) -> Settings:
        """The same settings with more dbt vars (e.g. ``settings.with_vars(future_tolerance_minutes=120)``)."""
        return dataclasses.replace(self, dbt_vars={**self.dbt_vars, **overrides})

    def dbt_vars_for_run(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``--vars`` of a dbt invocation: the configured vars, ``extra`` on top, and the paths dbt must use."""
        return {
            **self.dbt_vars,
            **dict(extra or {}),
            WAREHOUSE_VAR: str(self.warehouse),
            REPORTS_VAR: str(self.reports),
            DUCKDB_VARS["memory_limit"]: self.duckdb.memory_limit,
            DUCKDB_VARS["threads"]: self.duckdb.threads,
            **({TEMP_DIRECTORY_VAR: str(self.duckdb.temp_directory)} if self.duckdb.temp_directory else {}),
            **({SPARK_HOME_VAR: str(self.spark_folder)} if self.dbt_target == "spark" else {}),
        }

    @property
    def spark_folder(self) -> Path:
        """The Spark target's folder: ``spark_home``, else ``spark/`` beside the warehouse file."""
        return self.spark_home or self.warehouse.parent / "spark"

    def dbt_vars_arg(self, extra: Mapping[str, Any] | None = None) -> list[str]:
        """``["--vars", "<json>"]`` for a dbt command line (see :meth:`dbt_vars_for_run`)."""
        return ["--vars", json.dumps(self.dbt_vars_for_run(extra), sort_keys=True)]

    def project_vars(self) -> dict[str, Any]:
        """The dbt project's vars as a build with these settings sees them (declared values, then ``dbt_vars``)."""
        return project_vars(self.dbt_vars)


CAUSAL_WORKERS_CAP = 4
"""Default ceiling on :func:`causal_workers`: each worker holds pandas and scikit-learn (~0.2 GiB RSS, measured)
beside the dbt process, within the 4 GiB a stage may use; more workers than cores buy nothing."""


def causal_workers(environ: Mapping[str, str] | None = None) -> int:
    """Worker processes for ``pintel.causal.workers`` (``PINTEL_CAUSAL_WORKERS``; default the usable cores, capped).

    Only the wall time depends on it: the feature-impact table is the same for any number.
    """
    env = os.environ if environ is None else environ
    default = max(1, min(len(os.sched_getaffinity(0)), CAUSAL_WORKERS_CAP))
    return _positive_int("PINTEL_CAUSAL_WORKERS", env.get("PINTEL_CAUSAL_WORKERS"), default)


def _positive_int(name: str, text: str | None, default: int) -> int:
    """An env var holding a whole number >= 1 (``2000000`` or ``2_000_000``); unset or empty = ``default``."""
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} is not a whole number >= 1")
    return value


def query(path: str | Path, sql: str) -> pd.DataFrame:
    """Run one query on a read-only connection and return the rows, holding the file only for that query."""
    con = connect(path, read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


class WarehouseLocked(duckdb.IOException):
    """Another process holds the DuckDB file's lock (the message names it and what to do).

    A ``duckdb.IOException``, so every command that reports DuckDB errors in one line reports this one too.
    ``pid`` and ``program`` name the holder when DuckDB says who it is (None otherwise)."""

    def __init__(self, message: str, pid: int | None = None, program: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.program = program


_LOCK_PID = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def lock_message(path: str | Path, error: object) -> str | None:
    """One line for DuckDB's lock error on ``path`` (None when ``error`` is not a lock conflict)."""
    text = str(error)
    if "Could not set lock on file" not in text:
        return None
    found = _LOCK_PID.search(text)
    if found is None:
        holder = "another process"
        advice = "wait for it to finish"
    else:
        pid = found["pid"]
        try:  # what the holder runs, where the OS says (Linux); DuckDB only names the interpreter
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            command = found["program"]
        holder = f"process {pid} ({command[:120]})"
        advice = f"wait for it to finish or stop it (`kill {pid}`)"
    return (
        f"warehouse {path} is held by another writer, {holder}: {advice}, then run again "
        "(DuckDB lets one process write the file, and no other open it meanwhile)"
    )


def configure(con: duckdb.DuckDBPyConnection, resources: DuckDBResources | None = None) -> duckdb.DuckDBPyConnection:
    """Apply the UTC time zone and :class:`DuckDBResources` (default: from the environment) to ``con``."""
    resources = resources or DuckDBResources.from_env()
    for statement in ["set TimeZone = 'UTC'", *resources.statements()]:
        con.execute(statement)
    wanted = resources.temp_directory
    if wanted is not None and con.sql("select current_setting('temp_directory')").fetchone()[0] != str(wanted):
        con.execute(f"set temp_directory = '{str(wanted).replace(chr(39), chr(39) * 2)}'")
    return con


def connect(
    path: str | Path, read_only: bool = False, resources: DuckDBResources | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Readers open read-only: DuckDB allows a single writing process.

    A writer held off by another process gets :class:`WarehouseLocked` naming that process, not DuckDB's trace.
    ``resources`` (default: :meth:`DuckDBResources.from_env`) bound its memory, threads and spill folder.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet; run `pintel build` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        message = lock_message(path, error)
        if message is None:
            raise
        found = _LOCK_PID.search(str(error))
        holder = (int(found["pid"]), found["program"]) if found else (None, None)
        raise WarehouseLocked(message, *holder) from None
    configure(con, resources)
    con.execute("set enable_progress_bar = false")
    return con
