"""Read a warehouse table as Arrow, whichever engine built it: the one reader the ML layer needs on Spark.

DuckDB tables are read through a read-only connection; Spark tables through the Spark session configured by the
``spark`` output of the dbt profile (the one that built them, or a new one with the same parameters).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pintel.settings import DBT_PROJECT_DIR, Settings, connect


def spark_parameters(settings: Settings) -> dict[str, Any]:
    """The Spark configuration of the profile's target, rendered by dbt with these settings' vars."""
    from dbt.config.runtime import load_profile
    from dbt.flags import set_from_args

    set_from_args(_Flags(), None)
    profile = load_profile(
        str(DBT_PROJECT_DIR),
        settings.dbt_vars_for_run(),
        profile_name_override=None,
        target_override=settings.dbt_target,
    )
    return dict(profile.credentials.server_side_parameters or {})


class _Flags:
    """The few flags dbt's profile loader reads, outside a dbt command."""

    PROFILES_DIR = str(DBT_PROJECT_DIR)
    PROJECT_DIR = str(DBT_PROJECT_DIR)


def spark_session(settings: Settings) -> Any:
    """The active Spark session, or one made with the profile's parameters (Hive metastore, as dbt-spark's)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_parameters(settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read_arrow(settings: Settings, relation: str) -> pa.Table:
    """``select *`` of ``relation`` (``schema.table``) from the warehouse of ``settings.dbt_target``."""
    if settings.dbt_target == "spark":
        return spark_session(settings).table(relation).toArrow()
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.sql(f"select * from {relation}").to_arrow_table()
    finally:
        con.close()
