"""`pintel ingest` + `pintel build` on the exports a new team brings first: tiny, trait-less, one event name, a
single day, no experiment, nobody on the key feature, mixed time formats (tests/support/exports.py).

The build must succeed, and every ML model must say in ``ml.ml_model_status`` what it did with the data: a
model that cannot learn is ``skipped`` with the numbers in its reason and an empty contracted output, never a
guess and never a failed build; ``pintel summary`` lists the skips. Each case is one small build (most of its
CPU dbt's fixed cost per node), so the cases are chosen to cover every condition of the issue between them:

* ``one_user``: 1 user on a single day, the whole project built -- every model but the marts' detectors is
  skipped, each with its reason;
* ``ten_users``: 10 users over 40 days, no identify traits, no key-feature adoption, no experiment, and the
  times in three ISO spellings plus epoch milliseconds (two files);
* ``single_event``: 40 users over 40 days who only ever send ``page_viewed``.

The last two build the SQL layer whole and, of the ML models, the segments (the one guard whose outcome differs
between the cases: too few users, then enough on a single event name) and the status models; the other ML
models' guards on tiny data are the first case's. dbt's unit tests (data-independent) are left out of every
production build; tests/test_dbt_unit_tests.py runs them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from pintel.cli import main
from pintel.digest import build_digest
from tests.support.exports import EVERYDAY, START, Export, export_frame, ingest_args, write_export
from tests.support.warehouse import without_dbt_artifacts

GUARDED = {
    "user_segment_centroids",
    "user_segments",
    "ml_model_registry",
    "churn_predictions_v1",
    "churn_predictions_v2",
    "ml_churn_metrics",
    "ml_churn_monitoring",
    "metric_anomalies",
    "metric_incidents",
    "causal_feature_impact",
    "experiment_results",
    "feature_recommendations",
    "ml_recommendation_metrics",
    "upgrade_propensity_v1",
    "ml_upgrade_metrics",
}
#: Not enough labelled weekly snapshots to train churn on any of these exports: the chain is skipped.
CHURN_SKIPPED = {"ml_model_registry", "churn_predictions_v1", "churn_predictions_v2", "ml_churn_metrics"}

NO_CHURN = {
    "ml_model_registry": "not enough labelled history",
    **{m: "no trained" for m in CHURN_SKIPPED - {"ml_model_registry"}},
}
#: What every one of these exports lacks: an experiment, an estimable feature effect, churn labels.
#: ... and enough users of a catalogued feature to learn co-use (one export has features: 10 users, not 20), or
#: labelled snapshots of free-plan users to train, calibrate and test the upgrade propensity on.
ALWAYS = {
    "experiment_results": "0 experiments",
    "causal_feature_impact": "0 of 40",
    **NO_CHURN,
    "feature_recommendations": "need ≥ 20 (users of a catalogued feature)",
    "ml_recommendation_metrics": "need ≥ 20 (users of a catalogued feature)",
    "upgrade_propensity_v1": "need ≥ 4 to train, calibrate and test",
    "ml_upgrade_metrics": "need ≥ 4 to train, calibrate and test",
}

#: Per case: the export, the skipped models with a fragment of each reason, and the dbt selection (None: the whole
#: project). The narrower cases' selection: the SQL layer, the segments and the two ML models that record what ran.
SEGMENTS = {"user_segment_centroids", "user_segments"}
NARROW = [
    "resource_type:seed",
    "path:models/staging",
    "path:models/intermediate",
    "path:models/marts",
    "+user_segments_served",
    "ml_model_runs",
    "ml_model_status",
]

CASES = {
    "one_user": (
        Export("one_user", users=1, days=1),
        {
            "user_segment_centroids": "1 user, need ≥ 30 to form 3 segments",
            "user_segments": "no stored segments",
            **ALWAYS,
        },
        None,
    ),
    "ten_users": (
        Export("ten_users", users=10, days=40, mixed_times=True),
        {"user_segment_centroids": "10 users, need ≥ 30", "user_segments": "no stored segments", **ALWAYS},
        NARROW,
    ),
    "single_event": (Export("single_event", users=40, days=40, events=("page_viewed",)), ALWAYS, NARROW),
}


def _guarded(name: str) -> set[str]:
    """The guarded models the case builds."""
    return GUARDED if CASES[name][2] is None else SEGMENTS


def _query(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module", params=sorted(CASES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    """Ingest the case's export with the CLI, build it with the CLI; (case, warehouse, summary output)."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    runner = CliRunner()
    landed = runner.invoke(main, ingest_args(write_export(CASES[name][0], root / "export"), root / "landing"))
    assert landed.exit_code == 0, landed.output
    warehouse = root / "wh" / "pintel.duckdb"
    env = {"PINTEL_REPORTS": str(root / "reports")}
    args = ["build", "--warehouse", str(warehouse), "--landing", str(root / "landing")]
    for selector in CASES[name][2] or ():
        args += ["--select", selector]
    with without_dbt_artifacts():
        result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    summary = runner.invoke(main, ["summary", "--warehouse", str(warehouse)])
    assert summary.exit_code == 0, summary.output
    return name, warehouse, summary.output


def test_every_event_lands_whatever_its_time_format(built: tuple[str, Path, str]) -> None:
    name, warehouse, _ = built
    spec = CASES[name][0]
    valid = _query(warehouse, "select user_id, event_name, event_at from marts.fct_events")
    expected = export_frame(spec)
    assert len(valid) == len(expected)
    assert set(valid["user_id"]) == set(expected["account"])
    assert valid["event_name"].isin(spec.events).all() and set(spec.events) <= set(EVERYDAY) | {"page_viewed"}
    got = pd.to_datetime(valid["event_at"]).dt.tz_localize(None).sort_values().reset_index(drop=True)
    want = expected["at"].dt.tz_convert(None).sort_values().reset_index(drop=True)
    assert (got == want).all()  # ISO with Z, with an offset, without a zone, and epoch ms: one instant each
    traits = _query(warehouse, "select current_plan, signup_channel, company_size, country from marts.dim_users")
    assert (traits == "unknown").all().all()  # no identify calls: every trait unknown


def test_each_model_says_what_it_did(built: tuple[str, Path, str]) -> None:
    name, warehouse, summary = built
    models = _guarded(name)
    expected = {model: fragment for model, fragment in CASES[name][1].items() if model in models}
    status = _query(warehouse, "select * from ml.ml_model_status").set_index("model_name")
    assert set(status.index) == models
    assert status["status"].isin(["ok", "skipped"]).all()  # first build: nothing to keep, so nothing stale
    skipped = set(status.index[status["status"] == "skipped"])
    assert skipped == set(expected), status[["status", "reason"]].to_string()
    for model, fragment in expected.items():
        reason = status.loc[model, "reason"]
        assert reason.startswith("skipped: ") and fragment in reason, (model, reason)
    assert status.loc[list(skipped), "last_ok_at"].isna().all()
    assert status.loc[list(models - skipped), "last_ok_at"].notna().all()
    for model in skipped - {"causal_feature_impact"}:  # a skipped model publishes nothing, not a guess
        assert status.loc[model, "output_rows"] == 0, model
        assert _query(warehouse, f"select count(*) as n from ml.{model}").iloc[0].n == 0
    if "causal_feature_impact" in models:  # every catalogued feature keeps its rows, each saying why no estimate
        impact = _query(warehouse, "select * from ml.causal_feature_impact_served")
        assert len(impact) == 40 and impact["ate_estimate"].isna().all() and not impact["reliable"].any()
    digest = build_digest(warehouse).markdown
    if not skipped:
        assert f"ML models skipped or stale (0 of {len(models)};" in summary and "could not learn" not in digest
        return
    # the summary and the digest list each skip with its reason
    listed = summary.split("ML models skipped or stale", 1)[1]
    assert f"{len(skipped)} of {len(models)} models could not learn from this data" in digest
    for model in skipped:
        assert f"{model}: {status.loc[model, 'reason']}" in listed
        assert f"- {model}: {status.loc[model, 'reason']}" in digest


def test_a_rebuild_keeps_the_last_good_output_marked_stale(tmp_path: Path) -> None:
    """Segments learn from 40 users, then a rebuild whose data says "nothing to learn" keeps them, stale."""
    from pintel.build import build
    from pintel.segments import CENTROID_SCHEMA
    from tests.support.warehouse import settings_for

    runner = CliRunner()
    landing = tmp_path / "landing"
    first = write_export(Export("first", users=40, days=20, seed=1), tmp_path / "export")
    assert runner.invoke(main, ingest_args(first, landing)).exit_code == 0
    settings = settings_for(tmp_path, landing)
    select = ["+user_segment_centroids", "user_segments", "ml_model_runs", "ml_model_status"]
    with without_dbt_artifacts():  # the other ML models are not built: ml_model_runs reports what ran
        build(settings, select=select)
    before = _query(settings.warehouse, "select * from ml.ml_model_status where model_name = 'user_segment_centroids'")
    assert before["status"].tolist() == ["ok"]
    centroids = _query(settings.warehouse, "select * from ml.user_segment_centroids")
    assert len(centroids) and list(centroids.columns) == list(CENTROID_SCHEMA)
    # A later export of a single user: the segment window (the last 28 days of data) now holds only that user.
    later = Export("later", users=1, days=3, seed=2, start=START + dt.timedelta(days=90))
    assert runner.invoke(main, ingest_args(write_export(later, tmp_path / "export"), landing)).exit_code == 0
    with without_dbt_artifacts():
        build(settings, select=select)
    after = _query(settings.warehouse, "select * from ml.ml_model_status where model_name = 'user_segment_centroids'")
    assert after["status"].tolist() == ["stale"] and "kept the last good output" in after["reason"].iloc[0]
    assert after["last_ok_at"].iloc[0] == before["last_ok_at"].iloc[0]
    kept = _query(settings.warehouse, "select * from ml.user_segment_centroids")
    pd.testing.assert_frame_equal(kept, centroids)
