"""The pipeline benchmark's harness on a tiny world (not a timing: the figures live in BENCHMARKS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from benchmarks import bench_pipeline, handrun
from benchmarks.pipeline_report import as_json, markdown


def test_smoke_run_reports_every_stage_with_positive_figures(tmp_path: Path) -> None:
    # 200 users x 14 days, staging only, no overhead/incremental extras: the harness end to end in seconds
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n")
    argv = ["--sizes", "200x14", "--sql-only", "--no-extras", "--select", "resource_type:seed", "path:models/staging"]
    (report,) = bench_pipeline.main([*argv, "--work", str(tmp_path / "work"), "--benchmarks-md", str(md)])
    stages = {s["name"]: s for s in as_json(report)["stages"]}
    assert list(stages) == ["simulate", "load (landing -> raw)", "dbt SQL layer (build)"]
    for stage in stages.values():
        assert stage["wall"] > 0 and stage["cpu"] > 0 and stage["rss_gib"] > 0, stage
    assert report["messages"] > 1000
    assert any(uid.endswith("stg_segment__tracks") for uid in report["sql_nodes"])
    section = md.read_text()
    assert "## Pipeline at 200x14" in section and "| dbt SQL layer (build) |" in section
    assert "memory_limit" in section and "Load average" in section
    assert not (tmp_path / "work" / "200x14").exists()  # the world is deleted unless --keep


def test_hand_run_executes_compiled_models_upstream_first(tmp_path: Path) -> None:
    warehouse = tmp_path / "pintel.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema raw; create table raw.events as select range as id from range(10)")
    con.close()

    def node(name: str, materialized: str, sql: str, deps: list[str]) -> dict:
        return {
            "resource_type": "model",
            "language": "sql",
            "name": name,
            "database": "pintel",
            "schema": "marts",
            "relation_name": f'"pintel"."marts"."{name}"',
            "config": {"materialized": materialized},
            "compiled_code": sql,
            "depends_on": {"nodes": [f"model.pintel.{d}" for d in deps]},
        }

    nodes = {  # listed downstream first: the runner must order them
        "model.pintel.evens_count": node(
            "evens_count", "table", 'select count(*) as n from "pintel"."marts"."evens"', ["evens"]
        ),
        "model.pintel.evens": node("evens", "incremental", "select id from raw.events where id % 2 = 0", []),
        "model.pintel.odd_view": node("odd_view", "view", "select id from raw.events where id % 2 = 1", []),
        "test.pintel.not_a_model": {"resource_type": "test"},
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes}))
    seconds = handrun.run(warehouse, manifest)
    assert list(seconds).index("evens") < list(seconds).index("evens_count") and set(seconds) == {
        "evens",
        "evens_count",
        "odd_view",
    }
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.sql('select n from "pintel"."marts"."evens_count"').fetchone() == (5,)
    kinds = dict(
        con.sql("select table_name, table_type from information_schema.tables where table_schema = 'marts'").fetchall()
    )
    con.close()
    assert kinds == {"evens": "BASE TABLE", "evens_count": "BASE TABLE", "odd_view": "VIEW"}


def test_report_markdown_names_the_ratios() -> None:
    stage = bench_pipeline.Stage
    result = {
        "messages": 10,
        "stages": [stage("load (landing -> raw)", 1.0, 1.0, 0.1), stage("dbt SQL layer (build)", 6.0, 5.0, 0.5)],
        "ml_models": {},
        "sql_nodes": {"model.pintel.fct_events": 2.0},
        "load_average": [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0)],
        "compile": stage("dbt compile", 1.0, 1.0, 0.2),
        "hand": stage("hand-run", 2.0, 2.0, 0.3),
        "dbt_run": stage("dbt run", 4.0, 3.0, 0.4),
        "new_day": [stage("new day: load", 0.5, 0.5, 0.1), stage("new day: build", 0.5, 0.5, 0.1)],
        "hand_models": {"fct_events": 1.0},
        "new_day_files": 3,
    }
    from benchmarks.pipeline_report import median_stages

    report = median_stages("tiny", 1, 1, [result], "limits")
    assert report["summary"]["overhead_build"] == 3.0 and report["summary"]["overhead_run"] == 2.0
    assert report["summary"]["new_day_ratio"] == round(1.0 / 7.0, 2)
    assert report["summary"]["new_day_ratio_cpu"] == round(1.0 / 6.0, 2)
    assert "| fct_events | 2.0 | 1.0 |" in markdown(report)


def test_settle_backfill_moves_only_the_load_timestamps(tmp_path: Path) -> None:
    from pintel.ingest.landing import DDL, RAW_TABLE

    warehouse = tmp_path / "pintel.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(DDL)
    for kind, payload in (("events", "properties"), ("identifies", "traits")):
        con.execute(RAW_TABLE.format(kind=kind, payload=payload))
        con.execute(
            f"insert into raw.{kind} (_row_id, _file_id, _row_number, _source, _loaded_at, event_timestamp, "
            "is_parseable, message_bytes) values ('r1', 1, 1, 'segment', timestamp '2026-12-02 10:00:00', "
            "'2025-01-06T00:00:00Z', true, 10)"
        )
    con.execute(
        "insert into raw.ingested_files values (1, 'f.parquet', 'events', 'segment', 'parquet', 1, 'c', 10, "
        "timestamp '2026-12-02 10:00:00')"
    )
    con.close()
    bench_pipeline.settle_backfill(warehouse, 96)
    con = duckdb.connect(str(warehouse), read_only=True)
    moved = [
        con.sql(f"select {column}, {other} from raw.{table}").fetchone()
        for table, column, other in (
            ("events", "_loaded_at", "event_timestamp"),
            ("identifies", "_loaded_at", "event_timestamp"),
            ("ingested_files", "loaded_at", "path"),
        )
    ]
    con.close()
    assert [str(m[0]) for m in moved] == ["2026-11-28 10:00:00"] * 3
    assert [m[1] for m in moved] == ["2025-01-06T00:00:00Z", "2025-01-06T00:00:00Z", "f.parquet"]
    assert bench_pipeline.default_backfill_age() > 24
