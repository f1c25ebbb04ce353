"""The Dagster code location: the asset graph is complete, a whole run passes every check, and a blocking
Great Expectations check stops downstream assets when a critical expectation breaks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pintel.simulate import SimConfig, simulate


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from dagster_defs import defs

    return defs


def _manifest_models() -> set[str]:
    from dagster_defs.project import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["name"] if not node.get("version") else f"{node['name']}_v{node['version']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def test_definitions_load_with_the_whole_asset_graph(defs: dg.Definitions) -> None:
    from pintel.quality import SUITES

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw/events", "raw/identifies", "raw/ingested_files", "raw/custom_events"} <= keys
    assert {"reports/insight_digest", "decide/decisions", "decide/action_outcomes", "act/actions"} <= keys
    assert graph.get(dg.AssetKey(["act", "actions"])).parent_keys == {
        dg.AssetKey(["decide", "decisions"]),
        dg.AssetKey(["decide", "action_outcomes"]),
    }
    decision_inputs = graph.get(dg.AssetKey(["decide", "decisions"])).parent_keys
    assert {
        dg.AssetKey(["marts", "fct_flag_user_hourly"]),
        dg.AssetKey(["ml", "metric_incidents_served"]),
        dg.AssetKey(["ml", "feature_recommendations_served"]),
    } <= decision_inputs
    assert {"raw/truth_feature_propensities", "ml/ml_recommendation_metrics", "ml/upgrade_propensity_v1"} <= keys
    assert {dg.AssetKey(["decide", "decisions"]), dg.AssetKey(["act", "actions"])} <= graph.get(
        dg.AssetKey(["reports", "insight_digest"])
    ).parent_keys
    model_names = {key.split("/")[-1] for key in keys}
    assert _manifest_models() <= model_names
    checks = {key.name for key in graph.asset_check_keys}
    present = {name for name, spec in SUITES.items() if spec.asset.replace(".", "/") in keys}
    assert {f"gx_{name}" for name in present} <= checks
    assert {"gx_fct_events", "gx_active_users_daily", "gx_conservation", "gx_churn_predictions"} <= checks
    assert any(not name.startswith("gx_") for name in checks), "dbt tests appear as asset checks"
    freshness = {key.asset_key.to_user_string() for key in graph.asset_check_keys if key.name == "source_freshness"}
    assert freshness == {"raw/events", "raw/identifies", "raw/ingested_files", "raw/custom_events"}
    blocking = {spec.key.name for c in defs.asset_checks or [] for spec in c.check_specs if spec.blocking}
    assert {"gx_fct_events", "gx_active_users_daily", "gx_conservation"} <= blocking
    assert defs.get_sensor_def("landing_sensor")
    assert defs.get_schedule_def("pintel_daily_schedule").cron_schedule == "0 6 * * *"
    assert defs.get_job_def("ingest_and_build") and defs.get_job_def("pintel_daily")
    assert defs.get_sensor_def("data_quality_escalation")
    escalation = defs.get_job_def("decide_after_failed_quality").asset_layer.selected_asset_keys
    assert escalation == {dg.AssetKey(["decide", "decisions"]), dg.AssetKey(["act", "actions"])}


#: dbt vars for the pipeline's runs, through the resource's environment ($PINTEL_DBT_VARS): no refutations and three
#: cross-fitting folds (this test reads no estimate), and a check below that the vars reached the dbt subprocess.
PIPELINE_VARS = '{"causal_refute": "none", "causal_n_folds": 3}'


@pytest.fixture(scope="module")
def pipeline_env(tmp_path_factory: pytest.TempPathFactory):
    """A small simulated product (its landing is changed below, so it is this module's own), configured for the
    code location the way a deployment is: through the PINTEL_* environment that Settings reads."""
    root = tmp_path_factory.mktemp("dagster")
    landing = root / "landing"
    simulate(SimConfig(users=500, days=70, seed=13), landing)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PINTEL_WAREHOUSE", str(root / "pintel.duckdb"))
        env.setenv("PINTEL_LANDING", str(landing))
        env.setenv("PINTEL_REPORTS", str(root / "reports"))
        env.setenv("PINTEL_DBT_VARS", PIPELINE_VARS)
        yield root


def _run(defs: dg.Definitions, job: str) -> dg.ExecuteInProcessResult:
    return defs.get_job_def(job).execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}": (
            e.asset_check_evaluation_data
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_whole_graph_materializes_and_every_check_passes(defs: dg.Definitions, pipeline_env: Path) -> None:
    result = _run(defs, "pintel_daily")
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"raw/events", "marts/fct_events", "marts/active_users_daily", "reports/insight_digest"} <= materialized
    checks = _checks(result)
    assert any(name.endswith("gx_fct_events") for name in checks)
    # dbt source freshness on every raw asset: the simulated product's messages were received in 2025, so the
    # events are far past their error threshold (as they are), while the files were just loaded
    fresh = {name.split(":")[0]: check for name, check in checks.items() if name.endswith(":source_freshness")}
    assert set(fresh) == {"raw/events", "raw/identifies", "raw/ingested_files", "raw/custom_events"}
    assert not fresh["raw/events"].passed and fresh["raw/events"].severity == dg.AssetCheckSeverity.ERROR
    assert fresh["raw/ingested_files"].passed
    failed = [name for name, check in checks.items() if not check.passed and not name.endswith(":source_freshness")]
    assert failed == []
    assert (pipeline_env / "reports" / "digest.md").exists() and (pipeline_env / "reports" / "digest.html").exists()
    con = duckdb.connect(str(pipeline_env / "pintel.duckdb"), read_only=True)
    try:
        history = con.execute("select count(*), bool_and(success) from quality.validation_results").fetchone()
        refuted = con.execute("select count(*) from ml.causal_feature_impact_served where refutations_run").fetchone()
    finally:
        con.close()
    assert history[0] >= 5 and history[1]
    # the dbt steps left their parse state where the next run (and `pintel build`) starts from it
    assert (pipeline_env / "dbt_target" / "partial_parse.msgpack").stat().st_size > 0
    assert refuted == (0,)  # the run's --vars reached the dbt subprocess (the default refutes every decisive row)


def test_blocking_check_stops_downstream_on_a_replayed_export(defs: dg.Definitions, pipeline_env: Path) -> None:
    """A day's events re-sent with new message ids passes dbt (ids are unique) but breaks a critical
    expectation; the digest must not be produced from it."""
    landing = pipeline_env / "landing" / "events"
    day = sorted(p.name for p in landing.glob("date=*"))[40]
    for src in sorted((landing / day).glob("hour=*/part-0.parquet")):
        table = pq.read_table(src)
        replayed = table.set_column(0, "messageId", pc.binary_join_element_wise("replay-", table["messageId"], ""))
        pq.write_table(replayed, src.with_name("part-replay.parquet"))
    digest = pipeline_env / "reports" / "digest.md"
    digest.unlink()
    result = _run(defs, "pintel_daily")
    checks = _checks(result)
    failing = {name: check for name, check in checks.items() if not check.passed}
    assert "marts/fct_events:gx_fct_events" in failing
    metadata = failing["marts/fct_events:gx_fct_events"].metadata
    text = json.dumps({k: str(v.value) for k, v in metadata.items()})
    assert "expect_compound_columns_to_be_unique" in text and "user_id" in text
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/fct_events" in materialized
    assert "reports/insight_digest" not in materialized
    assert not digest.exists()
    shutil.rmtree(pipeline_env / "reports", ignore_errors=True)
