"""Read a warehouse table as Arrow, whichever engine built it: the one reader the ML layer needs on Spark.

DuckDB tables are read through a read-only connection; Spark tables through the Spark session configured by the
``spark`` output of the dbt profile (the one that built them, or one dbt opens with the same parameters).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pintel.settings import Settings, connect


def spark_session(settings: Settings) -> Any:
    """This process's Spark session; when there is none yet, dbt opens it as the profile's ``spark`` output says.

    dbt-spark's session method keeps one Spark session per process, so the session that built the tables (or one
    a no-op dbt operation opened with the same profile) is the one read here: its configuration has one home.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is None:
        from pintel.build import run_dbt

        run_dbt(settings, ["run-operation", "spark_ready"])
    return SparkSession.builder.getOrCreate()


def read_arrow(settings: Settings, relation: str) -> pa.Table:
    """``select *`` of ``relation`` (``schema.table``) from the warehouse of ``settings.dbt_target``."""
    if settings.dbt_target == "spark":
        return spark_session(settings).table(relation).toArrow()
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.sql(f"select * from {relation}").to_arrow_table()
    finally:
        con.close()
