"""Publish the DuckDB ledger's ``raw`` tables to the Spark target: Parquet files registered as ``raw.<table>``.

The raw shape has one definition, :mod:`pintel.ingest.landing` (its DDL and loader); Spark gets exactly those
tables, column for column, through Spark's built-in Parquet reader (nothing is downloaded at run time). The tables
are registered by the dbt macro ``register_raw_parquet`` through dbt's own Spark session, so the session is
configured in one place, the ``spark`` output of ``dbt_project/profiles.yml``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pintel.settings import Settings, connect


def raw_tables(settings: Settings) -> list[str]:
    """The tables of the ledger's ``raw`` schema, as the landing loader created them."""
    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by table_name"
        ).fetchall()
    finally:
        con.close()
    return [name for (name,) in rows]


def export_raw(settings: Settings) -> dict[str, Path]:
    """Write each raw table to ``<spark folder>/raw/<table>/data.parquet`` (replacing the last export)."""
    root = settings.spark_folder / "raw"
    tables = raw_tables(settings)
    if not tables:
        raise FileNotFoundError(f"{settings.warehouse} has no raw tables: nothing has landed in {settings.landing}")
    con = connect(settings.warehouse, read_only=True)
    folders: dict[str, Path] = {}
    try:
        for table in tables:
            folder = root / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            con.execute(f"copy raw.{table} to '{folder / 'data.parquet'}' (format parquet)")
            folders[table] = folder
    finally:
        con.close()
    return folders


def register_args(folders: dict[str, Path]) -> list[str]:
    """The dbt command that registers exported folders as ``raw.<table>`` in the Spark target's metastore."""
    tables = {name: str(path) for name, path in folders.items()}
    return ["run-operation", "register_raw_parquet", "--args", json.dumps({"tables": tables})]
