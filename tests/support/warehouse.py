"""Test warehouses: :class:`~pintel.settings.Settings` rooted in a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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
