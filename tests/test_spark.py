"""The same dbt project on Apache Spark: seeds, staging, intermediate and marts built by dbt-spark (local PySpark,
``session`` method) from the same raw tables as DuckDB, and every table equal to DuckDB's, row for row.

Minutes on two cores, so it runs from ``make test-spark`` (``PINTEL_TEST_SPARK=1``), not ``make test``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pintel.build import build
from pintel.quality.freshness import source_freshness
from pintel.simulate import SimConfig, simulate
from tests.support.tables import table_differences
from tests.support.warehouse import settings_for

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        os.environ.get("PINTEL_TEST_SPARK") != "1",
        reason="builds the SQL layer on local Spark (minutes): run `make test-spark` (sets PINTEL_TEST_SPARK=1)",
    ),
]

#: Demo-shaped but small: every mart has rows (flags, experiments, churn snapshots) in a few minutes of Spark.
WORLD = SimConfig(users=300, days=40, seed=19)
#: The ML layer is Python on DuckDB relations (see the README, "Running on a bigger engine"). dbt's data tests
#: and unit tests stay on the DuckDB build: here the question is whether the tables are the same.
SPARK_EXCLUDE = ["path:models/ml", "resource_type:test", "resource_type:unit_test"]
#: The marts the platform's metric definitions live in, and the freshness/completeness mart every judged series
#: stops at: these must run on Spark, not merely match when they do.
HEADLINE_MARTS = {
    "active_users_daily",
    "retention_cohorts",
    "funnel_conversion",
    "fct_sessions",
    "fct_user_daily",
    "data_freshness",
}


RUN_TIME_COLUMNS = ("refreshed_at",)
"""Columns that record when a build wrote the row (dbt's ``run_started_at``): two builds differ there by design."""


def _without_run_times(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c in RUN_TIME_COLUMNS])


def test_the_sql_layer_on_spark_equals_duckdb_row_for_row(tmp_path: Path) -> None:
    from pintel.spark.reader import read_arrow

    simulate(WORLD, tmp_path / "landing")
    # data_freshness judges ages against "now": both engines get the same frozen clock (var freshness_as_of), so
    # every column of it, ages included, must match exactly as the other marts do
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    duck = settings_for(tmp_path, tmp_path / "landing", dbt_vars={"freshness_as_of": now})
    build(duck, exclude=["path:models/ml"])

    spark = dataclasses.replace(duck, dbt_target="spark", spark_home=tmp_path / "spark")
    started = time.perf_counter()
    report = build(spark, exclude=SPARK_EXCLUDE)
    seconds = time.perf_counter() - started

    manifest = json.loads((tmp_path / "dbt_target_spark" / "manifest.json").read_text())
    built = sorted(uid for uid, status in report.nodes.items() if uid.startswith("model.") and status == "success")
    relations = {
        manifest["nodes"][uid]["name"]: f"{manifest['nodes'][uid]['schema']}.{manifest['nodes'][uid]['alias']}"
        for uid in built
    }
    print(f"\nSpark build: {len(report.nodes)} nodes in {seconds:.0f} s; models: {', '.join(sorted(relations))}")
    assert all(status == "success" for status in report.nodes.values()), report.nodes
    assert relations.keys() >= HEADLINE_MARTS

    differences: list[str] = []
    for name, relation in sorted(relations.items()):
        expected, actual = (_without_run_times(read_arrow(s, relation)) for s in (duck, spark))
        assert expected.num_rows > 0 or name.startswith("int_events_dup"), f"{relation} is empty: a vacuous match"
        differences += table_differences(expected, actual, relation)
    assert not differences, "\n".join(differences)

    # dbt source freshness reads the same newest arrival on both engines (loaded_at_query with parse_timestamp)
    newest = {
        engine: {f.source: f.max_loaded_at for f in source_freshness(s)}
        for engine, s in [("duck", duck), ("spark", spark)]
    }
    assert newest["duck"] == newest["spark"], newest
    assert newest["duck"]["segment.events"] is not None, newest  # custom_events is empty in this world: None on both
