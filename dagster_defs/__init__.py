"""Dagster code location for pintel. Thin: the logic lives in `pintel` and the dbt project."""

from dagster_defs.definitions import defs

__all__ = ["defs"]
