"""Test warehouses: :class:`~pintel.settings.Settings` rooted in a temporary folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pintel.settings import Settings


def settings_for(root: Path, landing: Path, **overrides: Any) -> Settings:
    """Settings for a warehouse under ``root`` reading ``landing``; reports go to ``root / "reports"``."""
    values: dict[str, Any] = {
        "home": root,
        "landing": landing,
        "warehouse": root / "pintel.duckdb",
        "dbt_target": "duckdb",
        "reports": root / "reports",
    }
    return Settings(**{**values, **overrides})


def copy_warehouse(shared: Settings, root: Path) -> Settings:
    """A private copy of a shared warehouse under ``root``, for a test that builds on it or changes it."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shared.warehouse, root / "pintel.duckdb")
    return settings_for(root, shared.landing, dbt_vars=shared.dbt_vars)


#: ``--exclude`` selectors for dbt's data tests of the SQL layer (sources, staging, intermediate, marts), for builds
#: that make the marts only as the lineage of the ML models under test. The SQL layer's tests run where the SQL
#: layer is what is tested: the shared small warehouse, tests/test_warehouse.py, the tiny exports and the Dagster
#: job; on the ML tests' worlds they would check the same rules again (~0.2 CPU s per test and world).
SQL_LAYER_TESTS = [f"resource_type:test,path:models/{layer}" for layer in ("staging", "intermediate", "marts")]


@contextmanager
def without_dbt_artifacts() -> Iterator[None]:
    """dbt invocations inside skip writing ``manifest.json``, ``run_results.json`` and ``semantic_manifest.json``.

    Writing them costs ~4 CPU s per invocation (two ~3 MB JSON dumps of the whole project), a fifth of a small
    rebuild. For builds whose tests read only the warehouse; not where ``pintel ask`` (the semantic manifest),
    ``dbt docs`` or Dagster read the target folder. dbt's own ``DBT_WRITE_JSON`` flag (``--no-write-json``);
    the partial-parse file is still written, so later invocations still parse partially.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_WRITE_JSON", "false")
        yield
