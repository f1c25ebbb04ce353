"""Where things live. Every path comes from an environment variable with a sensible default.

``PINTEL_HOME``       root for local data (default ``./data``)
``PINTEL_LANDING``    landing folder for batches (default ``$PINTEL_HOME/landing``)
``PINTEL_WAREHOUSE``  DuckDB file (default ``$PINTEL_HOME/pintel.duckdb``)
``PINTEL_DBT_TARGET`` dbt profile target (default ``duckdb``)
``PINTEL_REPORTS``    reports folder (default ``./reports``)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path
    warehouse: Path
    dbt_target: str
    reports: Path

    @classmethod
    def from_env(cls, warehouse: str | Path | None = None, landing: str | Path | None = None) -> Settings:
        home = Path(os.environ.get("PINTEL_HOME", "data")).resolve()
        return cls(
            home=home,
            landing=Path(landing or os.environ.get("PINTEL_LANDING", home / "landing")).resolve(),
            warehouse=Path(warehouse or os.environ.get("PINTEL_WAREHOUSE", home / "pintel.duckdb")).resolve(),
            dbt_target=os.environ.get("PINTEL_DBT_TARGET", "duckdb"),
            reports=Path(os.environ.get("PINTEL_REPORTS", "reports")).resolve(),
        )


def query(path: str | Path, sql: str) -> pd.DataFrame:
    """Run one query on a read-only connection and return the rows, holding the file only for that query."""
    con = connect(path, read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Readers open read-only: DuckDB allows a single writing process."""
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet; run `pintel build` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con
