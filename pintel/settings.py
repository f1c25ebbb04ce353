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
    "REPORTS_VAR",
    "REPO_ROOT",
    "SPARK_HOME_VAR",
    "WAREHOUSE_VAR",
    "Settings",
    "WarehouseLocked",
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


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Readers open read-only: DuckDB allows a single writing process.

    A writer held off by another process gets :class:`WarehouseLocked` naming that process, not DuckDB's trace.
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
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con
