"""pintel.churn.dbt_models / warehouse: the churn models wired into dbt -- registry, versioned predictions,
served scores, metrics and monitoring.

One simulated product (1 200 users x 120 days, seed 11) is built twice the way production sees it: first from
a landing folder truncated at CUT (the warehouse "as of" late March), then incrementally with the rest of the
data. That gives the prediction tables a real history (a late-March snapshot scored by the first model, the
last snapshot by the second), so the realised-outcome monitoring has matured predictions to score. Every dbt
run happens once in the module fixture; the tests only read what it captured.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from pintel.build import production_args, run_dbt
from pintel.churn import EmptySnapshotError, load_model_from_registry
from pintel.churn import dbt_models as glue
from pintel.churn import warehouse as wh
from pintel.churn.schemas import METRICS_SCHEMA, MONITORING_SCHEMA, PREDICTION_SCHEMA, REGISTRY_SCHEMA
from pintel.ingest.landing import load_landing
from pintel.settings import DBT_PROJECT_DIR, Settings, query
from pintel.simulate import SimConfig, simulate
from tests.support.warehouse import SQL_LAYER_TESTS, without_dbt_artifacts

SIM = SimConfig(users=1200, days=120, seed=11)
CUT = "2025-03-27"  # the truncated landing holds the partitions received before this day
PIT_BEFORE = pd.Timestamp("2025-03-20")  # snapshots before CUT minus the 72 h late-arrival window
EMPTY_SNAPSHOT = "2025-05-12"  # a Monday after the data: no users
FEATURE_TABLE = "marts.fct_user_features"
PREDICTIONS = {v: f"ml.churn_predictions_{v}" for v in wh.VERSIONS}
SCORES = {v: f"ml.churn_scores_{v}" for v in wh.VERSIONS}
#: The project's label horizon (the glue functions take it as an argument, as the dbt models pass it from meta).
HORIZON_DAYS = int(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["churn_horizon_days"])
#: The churn models and everything upstream of them (not the other ML models, which have their own tests).
CHURN_SELECT = ["+ml_churn_metrics", "+ml_churn_monitoring", "+churn_scores"]


def _copy_partitions(full: Path, landing: Path, keep) -> None:
    for kind in ("events", "identifies"):
        for src in (full / kind).rglob("*.parquet"):
            partition = next(p for p in src.relative_to(full).parts if p.startswith("date="))
            dst = landing / src.relative_to(full)
            if keep(partition.removeprefix("date=")) and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    shutil.copytree(full / "ground_truth", landing / "ground_truth", dirs_exist_ok=True)


def _build(settings: Settings) -> None:
    """``pintel build`` of the churn lineage (the loader also lands the evaluation-only truth table)."""
    load_landing(settings.landing, settings.warehouse)
    lineage = ["--select", *CHURN_SELECT, "--indirect-selection", "cautious", "--exclude", *SQL_LAYER_TESTS]
    run_dbt(settings, ["build", *production_args(), *lineage])


def _sorted(frame: pd.DataFrame, keys=("user_id", "snapshot_date")) -> pd.DataFrame:
    return frame.sort_values(list(keys), kind="mergesort", ignore_index=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("churn_wiring")
    full = root / "full"
    simulate(SIM, full)
    landing = root / "landing"
    settings = Settings(
        home=root, landing=landing, warehouse=root / "pintel.duckdb", dbt_target="duckdb", reports=root / "reports"
    )
    out: dict = {"settings": settings, "full": full}
    with pytest.MonkeyPatch.context() as mp, without_dbt_artifacts():
        mp.setenv("PINTEL_REPORTS", str(settings.reports))

        # 1. The warehouse as of CUT: features, a first model and its predictions.
        _copy_partitions(full, landing, lambda day: day < CUT)
        _build(settings)
        out["features_cut"] = query(settings.warehouse, f"select * from {FEATURE_TABLE}")
        out["registry_cut"] = query(settings.warehouse, "select version, model_hash from ml.ml_model_registry")

        # 2. The rest of the data lands: incremental build, second model, predictions appended.
        _copy_partitions(full, landing, lambda day: day >= CUT)
        _build(settings)
        for version in wh.VERSIONS:
            out[f"predictions:{version}"] = query(settings.warehouse, f"select * from {PREDICTIONS[version]}")
            out[f"scores:{version}"] = query(settings.warehouse, f"select * from {SCORES[version]}")
        out["registry"] = query(settings.warehouse, "select * from ml.ml_model_registry")
        out["metrics"] = query(settings.warehouse, "select * from ml.ml_churn_metrics").set_index("model")
        out["monitoring"] = query(settings.warehouse, "select * from ml.ml_churn_monitoring")
        out["types"] = query(
            settings.warehouse,
            "select table_name, column_name, data_type from information_schema.columns where table_schema = 'ml'",
        )
        out["labelled"] = wh.training_frame(
            query(settings.warehouse, f"select * from {FEATURE_TABLE}"),
            query(settings.warehouse, "select user_id, snapshot_date, churned_30d from marts.fct_churn_labels"),
        )
        out["churn_dates"] = query(
            settings.warehouse, "select user_id, churn_date from marts.dim_users where churn_date is not null"
        )

        # 3. Point in time: the features rebuilt from scratch on all the data (full refresh).
        run_dbt(settings, ["run", "--full-refresh", "--select", "fct_user_features"])
        out["features_full"] = query(settings.warehouse, f"select * from {FEATURE_TABLE}")

        # 4. Same data, same seed: re-running the ML models changes nothing.
        run_dbt(settings, ["build", "--select", "ml_model_registry+", "churn_predictions+"])
        for name, table in PREDICTIONS.items():
            out[f"rerun:{name}"] = query(settings.warehouse, f"select * from {table}")
        out["registry_rerun"] = query(settings.warehouse, "select version, model_hash from ml.ml_model_registry")

        # 5. Scoring pointed at a snapshot with no users: last good predictions stay, served as stale. The
        #    snapshot to score is a dim_dates column, so the calendar is rebuilt with the var.
        stale_vars = json.dumps({"churn_scoring_snapshot_date": EMPTY_SNAPSHOT})
        stale = ["--select", "dim_dates", "churn_predictions", "churn_scores", "--indirect-selection", "cautious"]
        run_dbt(settings, ["build", *stale, "--vars", stale_vars, *production_args()])
        for name in wh.VERSIONS:
            out[f"stale_predictions:{name}"] = query(settings.warehouse, f"select * from {PREDICTIONS[name]}")
            out[f"stale_scores:{name}"] = query(settings.warehouse, f"select * from {SCORES[name]}")
    return out


def _predictions(runs: dict, version: str) -> pd.DataFrame:
    return runs[f"predictions:{version}"]


def _scores(runs: dict, version: str) -> pd.DataFrame:
    return runs[f"scores:{version}"]


def test_served_tables_hold_their_contracts(runs: dict) -> None:
    types = runs["types"]
    for table, schema in {
        "ml_model_registry": REGISTRY_SCHEMA,
        "churn_predictions_v1": PREDICTION_SCHEMA,
        "churn_predictions_v2": PREDICTION_SCHEMA,
        "ml_churn_metrics": METRICS_SCHEMA,
        "ml_churn_monitoring": MONITORING_SCHEMA,
    }.items():
        got = types[types["table_name"] == table]
        assert list(got["column_name"]) == list(schema), table
        assert [t.lower() for t in got["data_type"]] == list(schema.values()), table
    scores_types = types[types["table_name"] == "churn_scores_v2"].set_index("column_name")["data_type"]
    assert scores_types["is_stale"] == "BOOLEAN" and scores_types["served_snapshot_date"] == "DATE"
    latest = runs["labelled"]["snapshot_date"].max()
    for version in wh.VERSIONS:
        scores = _scores(runs, version)
        assert len(scores) > 500 and scores["user_id"].is_unique
        assert scores["churn_probability"].between(0, 1).all()
        assert set(scores["risk_band"]) == {"high", "medium", "low"}
        assert (scores["model_version"] == version).all() and not scores["is_stale"].any()
        assert scores["reason_1"].notna().mean() > 0.9
        # One row per eligible user of the latest snapshot, nobody else.
        last = runs["features_full"][runs["features_full"]["snapshot_date"] == scores["snapshot_date"].max()]
        assert set(scores["user_id"]) == set(last["user_id"])
        assert pd.Timestamp(scores["snapshot_date"].iloc[0]) > latest  # the latest snapshot, not yet labelled


def test_predictions_accumulate_per_snapshot_with_model_provenance(runs: dict) -> None:
    registry = runs["registry"]
    assert len(registry) == 4 and set(registry["version"]) == {"v1", "v2"}  # one model per version per data state
    for version in wh.VERSIONS:
        preds = _predictions(runs, version)
        assert not preds.duplicated(["user_id", "snapshot_date"]).any()
        per_snapshot = preds.groupby("snapshot_date")["model_hash"].unique()
        assert len(per_snapshot) == 2  # late March (first build) and the last snapshot (second build)
        first, second = (h[0] for h in per_snapshot)
        cut_hash = runs["registry_cut"].set_index("version").loc[version, "model_hash"]
        assert first == cut_hash and second != first
        assert set(preds["model_hash"]) <= set(registry["model_hash"])
    # The test window is later than everything the model was fitted or calibrated on.
    for row in registry.itertuples():
        assert row.train_end < row.calibrate_start <= row.calibrate_end < row.test_start <= row.test_end


def test_metrics_rows_for_every_scorer_with_values_in_range(runs: dict) -> None:
    metrics = runs["metrics"]
    assert list(metrics.index) == ["v1", "v2", "baseline", "oracle"]
    for col in ("roc_auc", "pr_auc", "brier", "ece", "precision_top10", "recall_top10"):
        assert metrics[col].between(0, 1).all(), col
    assert metrics["n"].nunique() == 1 and (metrics["positives"] > 50).all()
    assert metrics.loc["v2", "roc_auc"] > 0.75 and metrics.loc["oracle", "roc_auc"] >= metrics.loc["v2", "roc_auc"]
    assert metrics.loc["v2", "ece"] < 0.05  # calibrated on a later window; a 1 200-user test window is noisy
    assert metrics["early_flag_share"].notna().all()
    # the operating point: one cost-weighted threshold (dbt vars) for every scorer, and the seeds' metrics
    project_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    c_fp, c_fn = project_vars["churn_cost_false_positive"], project_vars["churn_cost_false_negative"]
    assert np.allclose(metrics["high_risk_threshold"], c_fp / (c_fp + c_fn))
    for col in ("recall_14d", "high_risk_precision", "high_risk_share"):
        assert metrics[col].between(0, 1).all(), col
    assert (
        (metrics["expected_cost"] < metrics[["cost_flag_none", "cost_flag_all"]].min(axis=1))
        .loc[["v2", "oracle"]]
        .all()
    )
    assert metrics.loc["oracle", "recall_14d"] >= metrics.loc["baseline", "recall_14d"]
    registry = runs["registry"].sort_values("trained_at").groupby("version").tail(1).set_index("version")
    assert metrics.loc["v2", "model_hash"] == registry.loc["v2", "model_hash"]
    assert (metrics["test_start"] == registry.loc["v2", "test_start"]).all()
    plot = Path(metrics["calibration_plot"].iloc[0])
    assert plot == runs["settings"].reports / "churn" / "calibration.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_monitoring_scores_matured_predictions_and_decides(runs: dict) -> None:
    mon = runs["monitoring"]
    for version in wh.VERSIONS:
        rows = mon[mon["model_version"] == version]
        drift = rows[rows["check_type"] == "drift"]
        features = json.loads(runs["registry"].query("version == @version")["features"].iloc[0])
        assert set(drift["feature"]) == set(features) and (drift["psi"] >= 0).all()
        realised = rows[rows["check_type"] == "realised"]
        cut_hash = runs["registry_cut"].set_index("version").loc[version, "model_hash"]
        # Only the late-March predictions are 30+ days old with a known outcome; the latest ones are not.
        assert list(realised["model_hash"]) == [cut_hash]
        assert realised["n"].iloc[0] > 500 and 0.6 < realised["roc_auc"].iloc[0] <= 1
        assert realised["window_start"].iloc[0] == realised["window_end"].iloc[0]
        decision = rows[rows["check_type"] == "decision"]
        assert len(decision) == 1 and rows["retrain_needed"].nunique() == 1 and rows["reasons"].nunique() == 1
        needed, reasons = bool(decision["retrain_needed"].iloc[0]), decision["reasons"].iloc[0]
        assert needed == (not reasons.startswith("no retrain rule tripped"))
        # tenure grows with the calendar: reported, weightless, never a reason
        assert drift.set_index("feature").loc["tenure_days", "psi_status"] == "clock" and "tenure" not in reasons
        assert drift["importance"].sum() == pytest.approx(1.0)
        counted = drift[(drift["psi_status"] != "clock") & (drift["importance"] >= 0.05)]
        if (counted["psi"] >= 0.25).any():  # the configured thresholds (meta.retrain_thresholds)
            assert needed and "drifted beyond psi 0.25" in reasons
        assert decision["psi"].iloc[0] == pytest.approx((drift["psi"] * drift["importance"]).sum())
        weekly = rows[rows["check_type"] == "realised_snapshot"]
        assert len(weekly) >= 1 and (weekly["window_start"] == weekly["window_end"]).all()
        assert weekly["ece"].between(0, 1).all() and set(weekly["model_hash"]) == {cut_hash}


def test_rerun_with_same_data_and_seed_gives_identical_predictions(runs: dict) -> None:
    assert _sorted(runs["registry_rerun"], ["version", "model_hash"]).equals(
        _sorted(runs["registry"][["version", "model_hash"]], ["version", "model_hash"])
    )
    for version in wh.VERSIONS:
        pd.testing.assert_frame_equal(_sorted(runs[f"rerun:{version}"]), _sorted(_predictions(runs, version)))


def test_empty_snapshot_keeps_last_good_predictions_flagged_stale(runs: dict) -> None:
    for version in wh.VERSIONS:
        pd.testing.assert_frame_equal(_sorted(runs[f"stale_predictions:{version}"]), _sorted(runs[f"rerun:{version}"]))
        served, fresh = runs[f"stale_scores:{version}"], _scores(runs, version)
        assert len(served) == len(fresh) and served["is_stale"].all()
        assert (served["served_snapshot_date"] == fresh["snapshot_date"].max()).all()
        assert (served["expected_snapshot_date"] == pd.Timestamp(EMPTY_SNAPSHOT)).all()
        cols = ["user_id", "churn_probability", "model_hash"]
        pd.testing.assert_frame_equal(_sorted(served[cols], ["user_id"]), _sorted(fresh[cols], ["user_id"]))


def test_features_are_point_in_time(runs: dict) -> None:
    """Features of a snapshot before the cut are identical whether the warehouse knew the later data or not."""
    cut, full = runs["features_cut"], runs["features_full"]
    cut, full = (f[pd.to_datetime(f["snapshot_date"]) < PIT_BEFORE] for f in (cut, full))
    lineage = [c for c in cut.columns if c.endswith("loaded_at")]  # when the row was built, not what it says
    cut, full = cut.drop(columns=lineage), full.drop(columns=lineage)
    assert cut["snapshot_date"].nunique() >= 5 and len(cut) > 3000
    pd.testing.assert_frame_equal(_sorted(cut), _sorted(full))


def test_churn_dates_match_the_simulator(runs: dict) -> None:
    """dim_users.churn_date (the one home of churn dates, read by ml_churn_metrics) is the simulator's."""
    got = runs["churn_dates"].set_index("user_id")["churn_date"]
    truth = pd.read_parquet(runs["full"] / "ground_truth" / "users.parquet")
    truth = truth.dropna(subset=["churn_date"]).set_index("user_id")["churn_date"]
    assert len(got) > 100
    assert got.index.equals(truth.index) or set(got.index) == set(truth.index)
    assert (pd.to_datetime(truth.reindex(got.index)) == got).all()


# ---- The glue on tampered frames (no dbt) ----------------------------------------------------------------


def test_all_null_feature_is_dropped_and_recorded_in_the_registry(runs: dict) -> None:
    labelled = runs["labelled"].copy()
    labelled["seats"] = np.nan
    with warnings.catch_warnings():  # the drop is recorded in the registry; nothing is warned (dbt runs on threads)
        warnings.simplefilter("error")
        rows = wh.train_registry(labelled, trained_at="2025-01-01")
    for row in rows.itertuples():
        assert "seats" not in json.loads(row.features)
        params = json.loads(row.params)
        assert params["dropped_features"] == ["seats"]
        assert any("seats" in w and "dropped" in w for w in params["warnings"])
        assert json.loads(row.warnings) == params["warnings"]
    snapshot = labelled[labelled["snapshot_date"] == labelled["snapshot_date"].max()]
    scored = wh.predict_snapshot(rows, snapshot, "v2")
    assert len(scored) == len(snapshot) and scored["churn_probability"].between(0, 1).all()


def test_glue_empty_snapshot_serves_the_existing_rows_or_fails_loudly(runs: dict) -> None:
    registry = runs["registry"]
    features = runs["features_full"]
    calendar = pd.DataFrame({"date_day": pd.date_range("2025-01-06", "2025-05-12")})
    calendar["churn_scoring_snapshot_date"] = pd.Timestamp("2025-05-12")  # dim_dates: a Monday with no users
    earlier = calendar.assign(churn_scoring_snapshot_date=pd.Timestamp("2025-05-05"))
    con = duckdb.connect()
    try:
        frames = (("r", registry), ("f", features), ("d", calendar), ("e", earlier))
        rel = {name: con.from_df(frame) for name, frame in frames}
        assert glue.scoring_snapshot_date(rel["d"]) == dt.date(2025, 5, 12)
        con.execute("create table kept as select * from (values ('u1', date '2025-05-05')) t(user_id, snapshot_date)")
        with pytest.raises(EmptySnapshotError, match="no earlier v2 predictions"):
            glue.run_predictions(con, "v2", rel["r"], rel["f"], rel["d"], None)
        with pytest.raises(EmptySnapshotError, match="has no users"):  # pintel.status.guarded keeps "kept"
            glue.run_predictions(con, "v2", rel["r"], rel["f"], rel["d"], "kept")
        fresh = glue.run_predictions(con, "v2", rel["r"], rel["f"], rel["e"], "kept").df()
        assert len(fresh) == (pd.to_datetime(features["snapshot_date"]) == "2025-05-05").sum()
    finally:
        con.close()
    with pytest.raises(EmptySnapshotError):
        wh.predict_snapshot(registry, features.iloc[:0], "v2")


def test_young_warehouse_has_no_model_and_says_why(runs: dict) -> None:
    labelled = runs["labelled"]
    young = labelled[labelled["snapshot_date"] <= labelled["snapshot_date"].min() + pd.Timedelta(days=7)]
    assert "at least 3 distinct" in wh.insufficient_history(young)
    assert wh.insufficient_history(labelled) is None
    empty_registry = runs["registry"].iloc[:0]
    mon = wh.monitoring_frame(empty_registry, runs["features_full"], labelled, {}, horizon_days=HORIZON_DAYS)
    assert list(mon["check_type"]) == ["no_model", "no_model"] and mon["retrain_needed"].all()


def test_registry_blob_reproduces_the_stored_predictions(runs: dict) -> None:
    preds = _predictions(runs, "v2")
    last = preds[preds["snapshot_date"] == preds["snapshot_date"].max()]
    # scored with the prior shift of the newest labelled snapshots (params["serving_prior_shift"])
    model = load_model_from_registry(runs["registry"], "v2", last["model_hash"].iloc[0]).for_serving()
    assert model.logit_shift == model.params["serving_prior_shift"]["delta"]
    features = runs["features_full"]
    snapshot = features[features["snapshot_date"] == last["snapshot_date"].iloc[0]]
    proba = pd.Series(model.predict_proba(snapshot), index=snapshot["user_id"].to_numpy())
    np.testing.assert_allclose(proba.reindex(last["user_id"]).to_numpy(), last["churn_probability"].to_numpy())


def test_summary_reports_the_seeds_churn_metrics(runs: dict) -> None:
    from pintel.report import warehouse_summary

    metrics = runs["metrics"]
    text = warehouse_summary(runs["settings"])
    assert f"high risk = p >= {metrics['high_risk_threshold'].iloc[0]:.3f}" in text
    v2 = next(line for line in text.splitlines() if line.strip().startswith("v2 "))
    assert f"recall {metrics.loc['v2', 'recall_14d']:.0%}" in v2
    assert f"precision {metrics.loc['v2', 'high_risk_precision']:.0%}" in v2
    assert f"cost {metrics.loc['v2', 'expected_cost']:.2f} vs {metrics.loc['v2', 'cost_flag_none']:.2f}" in v2
