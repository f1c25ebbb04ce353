"""`pintel ask` end to end on a simulated warehouse: the question set, the governed metrics against the marts, the
JSON contract through the real CLI, and the warehouse left untouched.

One simulation (1 200 users x 90 days from 2025-01-06, seed 7) is built once for the module: the marts, the time
spine, and the incident and segment models the why- and segment-questions read. Expected answers are computed by
the hand-written SQL in tests/ask/questions.yml over the base facts, never through pintel ask's own query path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from pintel.ask import ask
from pintel.ask.catalog import load
from pintel.ask.compile import Compiler
from pintel.ask.query import QueryError, Request, build_sql
from pintel.build import build
from pintel.settings import Settings
from tests.support.warehouse import copy_warehouse

QUESTIONS = yaml.safe_load((Path(__file__).parent / "ask" / "questions.yml").read_text())


@pytest.fixture(scope="module")
def warehouse(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared small world's marts (conftest), copied, with the incident and segment models built on top."""
    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("ask"))
    build(
        settings, select=[f"+{served},path:models/ml" for served in ("metric_incidents_served", "user_segments_served")]
    )
    return settings.warehouse


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _calendar(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """The dates the questions refer to, by plain date arithmetic (independent of pintel.ask.timerange)."""
    first, last = con.execute("select min(date_day), max(date_day) from marts.dim_dates").fetchone()
    latest_event = con.execute("select max(event_at) from marts.fct_events").fetchone()[0]
    anchor = (
        last
        if latest_event >= datetime.combine(last, datetime.min.time()) + timedelta(hours=23)
        else last - timedelta(1)
    )
    today = anchor + timedelta(days=1)
    this_monday = today - timedelta(days=today.weekday())
    lm_end = today.replace(day=1) - timedelta(days=1)
    day12 = anchor.replace(day=12) if anchor.day >= 12 else (anchor.replace(day=1) - timedelta(days=1)).replace(day=12)
    return {
        "first": first,
        "anchor": anchor,
        "l7_start": anchor - timedelta(days=6),
        "l14_start": anchor - timedelta(days=13),
        "l30_start": anchor - timedelta(days=29),
        "lw_start": this_monday - timedelta(days=7),
        "lw_end": this_monday - timedelta(days=1),
        "pw_start": this_monday - timedelta(days=14),
        "pw_end": this_monday - timedelta(days=8),
        "lm_start": lm_end.replace(day=1),
        "lm_end": lm_end,
        "feb_start": date(2025, 2, 1),
        "feb_end": date(2025, 2, 28),
        "mar_start": date(2025, 3, 1),
        "mar_end": date(2025, 3, 31),
        "jan_end": date(2025, 1, 31),
        "q1_start": max(first, date(2025, 1, 1)),
        "q1_end": date(2025, 3, 31),
        "sunday": anchor - timedelta(days=(anchor.weekday() - 6) % 7),
        "day12": day12,
    }


def _date(token: str, cal: dict[str, date]) -> str:
    return cal[token].isoformat() if token in cal else token


def _expected_rows(con, item: dict, cal: dict[str, date]) -> list[tuple]:
    names = {k: v.isoformat() for k, v in cal.items()}
    for key, value in (item.get("params") or {}).items():
        names[key] = _date(str(value), cal)
    return con.execute((item.get("sql") or item.get("compare_sql")).format(**names)).fetchall()


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


def _check(item: dict, got: dict, con, cal: dict[str, date]) -> str | None:
    """None when the answer is right, else what is wrong."""
    if item.get("refuse"):
        return None if got["status"] == "refused" else f"answered instead of refused: {got['explanation']}"
    if got["status"] != "answered":
        return f"refused: {got['explanation']}"
    if item.get("why"):
        cause = con.execute(item["cause_sql"].format(**{k: v.isoformat() for k, v in cal.items()})).fetchone()
        if cause is None:
            return None if "No incident" in got["explanation"] else f"reported an incident: {got['explanation']}"
        if cause[0] not in got["explanation"] or got["values"][0]["group"] != {cause[1]: cause[2]}:
            return f"expected cause {cause[0]}, got {got['explanation']}"
        return None
    if got["metric"] != item["metric"]:
        return f"metric {got['metric']} != {item['metric']}"
    if got["group_by"] != item.get("group_by", []):
        return f"group_by {got['group_by']} != {item.get('group_by', [])}"
    if got["filters"] != item.get("filters", {}):
        return f"filters {got['filters']} != {item.get('filters', {})}"
    if "range" in item:
        want = {"start": _date(item["range"][0], cal), "end": _date(item["range"][1], cal)}
        if got["time_range"] != want:
            return f"time_range {got['time_range']} != {want}"
    rows = _expected_rows(con, item, cal)
    n_group = len(item.get("group_by", []))
    keyed = item.get("grain") or "compare_sql" in item
    want = {}
    for row in rows:
        key = tuple(str(v) for v in row[:n_group]) + ((str(row[n_group]),) if keyed else ())
        want[key] = row[-1]
    have = {}
    for value in got["values"]:
        key = tuple(value["group"][g] for g in item.get("group_by", [])) + ((value["period"],) if keyed else ())
        have[key] = value["value"]
    if set(want) != set(have):
        return f"groups {sorted(have)} != {sorted(want)}"
    wrong = {k: (have[k], want[k]) for k in want if not _close(have[k], want[k])}
    return f"values differ (got, expected): {wrong}" if wrong else None


@pytest.fixture(scope="module")
def outcomes(warehouse: Path) -> dict[str, str | None]:
    before = _sha256(warehouse)
    answers = {item["q"]: ask(item["q"], warehouse).to_dict() for item in QUESTIONS}
    assert _sha256(warehouse) == before, "pintel ask changed the warehouse file"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cal = _calendar(con)
        return {item["q"]: _check(item, answers[item["q"]], con, cal) for item in QUESTIONS}
    finally:
        con.close()


def test_question_set_shape() -> None:
    refusals = [q for q in QUESTIONS if q.get("refuse")]
    assert len(QUESTIONS) >= 60
    assert len(refusals) >= 10
    assert sum(bool(q.get("hostile")) for q in refusals) >= 3


def test_question_set_accuracy(outcomes: dict[str, str | None]) -> None:
    wrong = {q: why for q, why in outcomes.items() if why}
    right = 1 - len(wrong) / len(outcomes)
    assert right >= 0.9, f"{right:.0%} right; wrong: {json.dumps(wrong, indent=1)}"


def test_every_refusal_is_right(outcomes: dict[str, str | None]) -> None:
    wrong = {item["q"]: outcomes[item["q"]] for item in QUESTIONS if item.get("refuse") and outcomes[item["q"]]}
    assert not wrong, wrong


def test_metricflow_numbers_equal_the_marts(warehouse: Path) -> None:
    """DAU, WAU, MAU and signups as MetricFlow compiles them equal active_users_daily / signups_daily, every day."""
    manifest = warehouse.parent / "dbt_target" / "semantic_manifest.json"
    compiler = Compiler(manifest, load(manifest), cache_path=warehouse.parent / "compiled.json")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for grouping, segment_dim in (
            ([], "all"),
            (["user_day__platform"], "platform"),
            (["user__country"], "country"),
        ):
            sql = compiler.sql(["dau", "wau", "mau"], grouping)
            value = grouping[0] if grouping else "'all'"
            diff = con.execute(
                f"with mf as ({sql}\n) select count(*) from marts.active_users_daily a left join mf "
                f"on cast(mf.metric_time__day as date) = a.activity_date "
                f"and cast({value} as varchar) = a.segment_value "
                f"where a.segment_dim = '{segment_dim}' and a.dau > 0 "
                "and (mf.dau is distinct from a.dau or mf.wau is distinct from a.wau or mf.mau is distinct from a.mau)"
            ).fetchone()[0]
            assert diff == 0, f"{diff} {segment_dim} days differ between MetricFlow and active_users_daily"
        sql = compiler.sql(["signups"], [])
        diff = con.execute(
            f"with mf as ({sql}\n) select count(*) from marts.signups_daily s left join mf "
            "on cast(mf.metric_time__day as date) = s.signup_date where s.segment_dim = 'all' "
            "and coalesce(mf.signups, 0) != s.signups"
        ).fetchone()[0]
        assert diff == 0
    finally:
        con.close()


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("pintel")), "ask", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_json_prints_exactly_one_object(warehouse: Path) -> None:
    done = _cli("weekly active users by platform last week", "--json", "--warehouse", str(warehouse))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # exactly one object: json.loads fails on trailing text
    assert set(answer) == {
        "question", "status", "metric", "group_by", "filters", "time_range", "values", "sql", "explanation"
    }  # fmt: skip
    assert answer["status"] == "answered" and answer["metric"] == "wau" and answer["group_by"] == ["platform"]
    values = [v["value"] for v in answer["values"]]
    assert values == sorted(values, reverse=True) and len(values) >= 2
    assert all(set(v) == {"group", "period", "value"} for v in answer["values"])
    assert "metric_time__day" in answer["sql"]


def test_cli_refuses_hostile_questions_with_exit_code_2(warehouse: Path) -> None:
    done = _cli("'; drop table marts.fct_events; --", "--json", "--warehouse", str(warehouse))
    assert done.returncode == 2
    answer = json.loads(done.stdout)
    assert answer["status"] == "refused" and answer["sql"] is None and "SQL" in answer["explanation"]


def test_only_warehouse_values_reach_the_sql(warehouse: Path) -> None:
    """A filter value is one the warehouse holds for the dimension; anything else is rejected before SQL exists."""
    manifest = warehouse.parent / "dbt_target" / "semantic_manifest.json"
    catalog = load(manifest)
    compiler = Compiler(manifest, catalog, cache_path=warehouse.parent / "compiled.json")
    platform = catalog.dimensions_for("dau")["platform"]
    day = date(2025, 3, 3)
    allowed = {"platform": frozenset({"android", "ios", "web"})}
    sql = build_sql(Request(catalog.metrics["dau"], (), ((platform, "android"),), allowed, day, day), compiler)
    assert "= 'android'" in sql
    for hostile in ("android' or '1'='1", "web'; drop table marts.fct_events; --", "Android"):
        with pytest.raises(QueryError, match="not a value of platform"):
            build_sql(Request(catalog.metrics["dau"], (), ((platform, hostile),), allowed, day, day), compiler)
    answer = ask("DAU on android yesterday", warehouse).to_dict()
    assert answer["filters"] == {"platform": "android"} and answer["status"] == "answered"


def test_missing_warehouse_is_a_clear_refusal(tmp_path: Path) -> None:
    answer = ask("DAU yesterday", tmp_path / "nope.duckdb").to_dict()
    assert answer["status"] == "refused"
    assert "semantic manifest" in answer["explanation"] or "does not exist" in answer["explanation"]


def test_a_copied_warehouse_under_another_name_answers_the_same(warehouse: Path, tmp_path: Path) -> None:
    """DuckDB names a file's catalog after the file; a renamed copy (a snapshot, a backup) must still answer."""
    question = "how many weekly active users did we have last week?"
    copy = tmp_path / "acme_snapshot.duckdb"
    shutil.copy2(warehouse, copy)
    shutil.copytree(warehouse.parent / "dbt_target", tmp_path / "dbt_target")
    original, renamed = ask(question, warehouse).to_dict(), ask(question, copy).to_dict()
    assert renamed["status"] == "answered", renamed["explanation"]
    assert renamed["values"] == original["values"] != [] and renamed["sql"] == original["sql"]


def test_a_warmed_question_imports_no_heavy_library(warehouse: Path) -> None:
    """After `pintel ask --warm` a common question imports neither MetricFlow nor pandas, dbt or Dagster."""
    warmed = _cli("--warm", "--warehouse", str(warehouse))
    assert warmed.returncode == 0, warmed.stderr
    probe = (
        "import sys; from pathlib import Path; from pintel.ask import ask; "
        f"a = ask('signups by country last month', Path({str(warehouse)!r})); "
        "heavy = {'metricflow', 'pandas', 'dbt', 'dagster', 'sklearn'}; "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & heavy); "
        "print(a.status, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "answered []", done.stdout + done.stderr


def test_the_semantic_layer_passes_metricflow_validation_and_every_metric_is_described(warehouse: Path) -> None:
    from metricflow_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest

    manifest_path = warehouse.parent / "dbt_target" / "semantic_manifest.json"
    manifest = parse_manifest_from_dbt_generated_manifest(manifest_path.read_text())
    result = SemanticManifestValidator().validate_semantic_manifest(manifest)
    assert not result.has_blocking_issues, [e.message for e in result.errors]
    catalog = load(manifest_path)
    wanted = {"dau", "wau", "mau", "stickiness", "signups", "events", "sessions", "retention_rate"}
    wanted |= {"funnel_conversion", "feature_adoption", "churn_rate", "mrr_change", "churned_mrr"}
    assert wanted <= set(catalog.metrics)
    for metric in catalog.public_metrics:
        assert metric.synonyms and metric.unit and metric.description, metric.name
    assert {"plan", "platform", "country", "channel", "segment"} <= set(catalog.dimensions_for("dau"))
