"""Test warehouses: :class:`~pintel.settings.Settings` rooted in a temporary folder."""

from __future__ import annotations

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
