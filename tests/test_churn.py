"""Tests for pintel.ml.churn / metrics / drift on a synthetic panel with a known, non-linear churn mechanism.

The panel (3 000 users x 12 weekly snapshots, seed 0) comes from ``make_synthetic_panel``: latent engagement
drives activity features, and the weekly churn hazard has recency cliffs, a ticket threshold, a plan x
key-feature interaction and a U-shaped usage trend, so gradient boosting has something a linear model cannot
capture. Models are trained once per module (single OpenMP thread: fast and immune to a busy CI box).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from pintel.ml.churn import (
    EVALUATION_COLUMNS,
    REGISTRY_COLUMNS,
    AllNullFeatureWarning,
    EmptySnapshotError,
    TrainedModels,
    baseline_score,
    calibration_plot,
    drift_report,
    dump_model,
    evaluate,
    latest_snapshot,
    load_model,
    load_model_from_registry,
    make_synthetic_panel,
    psi,
    realised_outcomes,
    retrain_needed,
    score,
    score_columns,
    time_split,
    train_models,
)

SEED = 0


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_synthetic_panel(n_users=3_000, n_snapshots=12, seed=SEED)


@pytest.fixture(scope="module")
def trained(panel: pd.DataFrame) -> TrainedModels:
    return train_models(panel, seed=SEED, n_threads=1)


@pytest.fixture(scope="module")
def test_metrics(trained: TrainedModels) -> pd.DataFrame:
    return trained.evaluate_test().set_index("model")


# --------------------------------------------------------------------------------------------------------
# time_split
# --------------------------------------------------------------------------------------------------------


def test_time_split_is_ordered_and_never_mixes_dates() -> None:
    df = make_synthetic_panel(n_users=300, n_snapshots=12, seed=1, censor_recent_labels=True)
    labelled_dates = sorted(pd.to_datetime(df.loc[df["churned_30d"].notna(), "snapshot_date"]).unique())
    assert df["churned_30d"].isna().any(), "fixture should contain unlabelled (recent) snapshots"

    parts = time_split(df)
    dates = [set(pd.to_datetime(p["snapshot_date"])) for p in parts]
    assert all(dates), "every window gets at least one date"
    assert max(dates[0]) < min(dates[1]) and max(dates[1]) < min(dates[2]), "windows are in time order"
    assert not (dates[0] & dates[1] or dates[1] & dates[2] or dates[0] & dates[2]), "no date in two windows"
    assert sorted(dates[0] | dates[1] | dates[2]) == labelled_dates, "all labelled dates used, nothing else"
    assert all(p["churned_30d"].notna().all() for p in parts), "only labelled rows"
    assert sum(map(len, parts)) == df["churned_30d"].notna().sum()
    n = len(labelled_dates)
    assert [len(d) for d in dates] == [round(0.6 * n), round(0.8 * n) - round(0.6 * n), n - round(0.8 * n)]
    for part in parts:  # sorted by (date, user) so fitting does not depend on upstream row order
        keys = list(zip(pd.to_datetime(part["snapshot_date"]), part["user_id"], strict=True))
        assert keys == sorted(keys)


def test_time_split_gap_purges_overlapping_labels() -> None:
    df = make_synthetic_panel(n_users=200, n_snapshots=24, seed=2)
    train, calibrate, test = time_split(df, gap_days=30)
    assert len(train) and len(calibrate) and len(test)
    assert (
        pd.to_datetime(train["snapshot_date"]).max() + pd.Timedelta(days=30)
        <= pd.to_datetime(calibrate["snapshot_date"]).min()
    )
    assert (
        pd.to_datetime(calibrate["snapshot_date"]).max() + pd.Timedelta(days=30)
        <= pd.to_datetime(test["snapshot_date"]).min()
    )


def test_time_split_rejects_too_few_dates_and_bad_fractions(panel: pd.DataFrame) -> None:
    two_dates = panel[pd.to_datetime(panel["snapshot_date"]).isin(sorted(panel["snapshot_date"].unique())[:2])]
    with pytest.raises(ValueError, match="at least 3 distinct"):
        time_split(two_dates)
    with pytest.raises(ValueError, match="fractions"):
        time_split(panel, fractions=(0.5, 0.5, 0.5))


# --------------------------------------------------------------------------------------------------------
# models: quality, calibration, determinism
# --------------------------------------------------------------------------------------------------------


def test_v2_beats_v1_and_baseline_on_nonlinear_panel(test_metrics: pd.DataFrame) -> None:
    auc = test_metrics["roc_auc"]
    assert auc["v2"] > auc["v1"] + 0.005, test_metrics
    assert auc["v1"] > auc["baseline"] + 0.03, test_metrics
    assert auc["oracle"] > auc["v2"], "the oracle knows the future hazard path; nothing should beat it"


def test_v2_is_calibrated_on_the_test_window(trained: TrainedModels, test_metrics: pd.DataFrame) -> None:
    assert trained.v2.params["calibration"] == "isotonic"
    assert test_metrics.loc["v2", "ece"] <= 0.03, test_metrics
    assert test_metrics.loc["v1", "ece"] <= 0.05, test_metrics


def test_training_is_deterministic_and_order_independent(panel: pd.DataFrame, trained: TrainedModels) -> None:
    shuffled = panel.sample(frac=1.0, random_state=123)
    again = train_models(shuffled, seed=SEED, n_threads=1)
    for version in ("v1", "v2"):
        first, second = trained.models[version], again.models[version]
        assert first.model_hash == second.model_hash
        np.testing.assert_array_equal(first.predict_proba(trained.test), second.predict_proba(trained.test))
    assert trained.v1.model_hash != trained.v2.model_hash


def test_model_metadata_and_registry_rows(trained: TrainedModels) -> None:
    rows = trained.registry_rows()
    assert list(rows.columns) == REGISTRY_COLUMNS
    assert list(rows["version"]) == ["v1", "v2"]
    assert rows["model_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (rows["train_start"] == pd.Timestamp("2024-01-01")).all()
    assert (rows["train_end"] == pd.to_datetime(trained.train["snapshot_date"]).max()).all()
    features = json.loads(rows.loc[0, "features"])
    assert "oracle_probability" not in features and "churn_date" not in features and "plan" in features
    params = json.loads(rows.loc[1, "params"])
    assert params["estimator"] == "HistGradientBoostingClassifier" and params["early_stopping"] is False
    assert set(params["risk_band_thresholds"]) == {"high", "medium"}


def test_persistence_roundtrip(trained: TrainedModels) -> None:
    loaded = load_model(dump_model(trained.v2))
    np.testing.assert_array_equal(loaded.predict_proba(trained.test), trained.v2.predict_proba(trained.test))
    registry = trained.registry_rows(include_blob=True)
    from_registry = load_model_from_registry(registry, "v1")
    assert from_registry.model_hash == trained.v1.model_hash
    with pytest.raises(LookupError):
        load_model_from_registry(registry, "v3")


# --------------------------------------------------------------------------------------------------------
# scoring and reasons
# --------------------------------------------------------------------------------------------------------


def test_score_output_contract(trained: TrainedModels) -> None:
    latest = latest_snapshot(trained.test)
    out = score(trained.v2, latest, n_threads=1)
    assert list(out.columns) == score_columns()
    assert len(out) == len(latest) and out["user_id"].tolist() == latest["user_id"].tolist()
    assert out["churn_probability"].between(0, 1).all()
    assert set(out["risk_band"]) <= {"high", "medium", "low"}
    high = trained.v2.band_thresholds["high"]
    assert (out.loc[out["risk_band"] == "high", "churn_probability"] >= high).all()
    assert 0.03 < (out["risk_band"] == "high").mean() < 0.25, "about the top decile is 'high'"
    assert (out["model_version"] == "v2").all() and (out["model_hash"] == trained.v2.model_hash).all()

    fast = score(trained.v2, latest, reasons=False, n_threads=1)
    assert list(fast.columns) == score_columns() and fast["reason_1"].isna().all()
    np.testing.assert_array_equal(fast["churn_probability"], out["churn_probability"])

    flagged_only = score(trained.v2, latest, reason_bands=("high",), n_threads=1)
    assert flagged_only.loc[flagged_only["risk_band"] != "high", "reason_1"].isna().all()
    high_rows = flagged_only["risk_band"] == "high"
    assert flagged_only.loc[high_rows, "reason_1"].equals(out.loc[high_rows, "reason_1"])


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(("driver", "value"), [("tickets_28d", 6.0), ("days_since_last_active", 30.0)])
def test_reasons_point_to_the_planted_driver(trained: TrainedModels, version: str, driver: str, value: float) -> None:
    model = trained.models[version]
    # A paying user who looks typical on everything (training medians / modes) except one planted driver
    # with a known effect on the simulated hazard: that driver must be the top reason.
    typical = {f: trained.v2.reference[f] for f in model.features}
    base = pd.DataFrame([{**typical, "plan": "pro", "user_id": 1, "snapshot_date": pd.Timestamp("2024-04-01")}])
    at_risk = base.assign(**{driver: value, "user_id": 2})
    out = score(model, pd.concat([base, at_risk], ignore_index=True), n_threads=1)
    assert out.loc[1, "churn_probability"] > out.loc[0, "churn_probability"]
    assert out.loc[1, "reason_1"].startswith(f"{driver} high ({value:.0f} vs "), out.loc[1].to_dict()
    assert not any(str(r).startswith(driver) for r in out.loc[0, ["reason_1", "reason_2", "reason_3"]])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_reasons_only_name_features_pushing_risk_up(trained: TrainedModels, version: str) -> None:
    model = trained.models[version]
    sample = trained.test.sample(500, random_state=0)
    contributions = model.contributions(sample)
    out = score(model, sample, n_threads=1)
    for i, reasons in enumerate(out[["reason_1", "reason_2", "reason_3"]].itertuples(index=False)):
        named = [r.split(" ")[0] for r in reasons if r is not None]
        row = contributions.iloc[i]
        assert all(row[f] > 0 for f in named)
        assert named == list(row[row > 0.01].sort_values(ascending=False, kind="stable").index[: len(named)])


def test_v1_contributions_are_an_exact_decomposition(trained: TrainedModels) -> None:
    sample = trained.test.head(200)
    contributions = trained.v1.contributions(sample).sum(axis=1).to_numpy()
    log_odds = logit(trained.v1.predict_proba(sample))
    np.testing.assert_allclose(contributions + trained.v1.estimator.intercept_[0], log_odds, atol=1e-8)


def test_baseline_is_monotone_in_recency(trained: TrainedModels) -> None:
    frame = pd.DataFrame({"days_since_last_active": [1, 3, 7, 14, 30, np.nan]})
    p = baseline_score(frame, trained.baseline).to_numpy()
    assert np.all(np.diff(p[:5]) >= 0) and p[5] >= p[4]


# --------------------------------------------------------------------------------------------------------
# evaluation and plots
# --------------------------------------------------------------------------------------------------------


def test_evaluate_columns_and_ranges(trained: TrainedModels, test_metrics: pd.DataFrame) -> None:
    assert list(test_metrics.reset_index().columns) == EVALUATION_COLUMNS
    assert list(test_metrics.index) == ["v1", "v2", "baseline", "oracle"]
    bounded = ["roc_auc", "pr_auc", "brier", "ece", "precision_top10", "recall_top10", "early_flag_share"]
    assert ((test_metrics[bounded] >= 0) & (test_metrics[bounded] <= 1)).all().all()
    assert (test_metrics["n"] == len(trained.test)).all()
    assert (test_metrics["positives"] == trained.test["churned_30d"].sum()).all()
    # top decile: precision well above the base rate for a real model
    base_rate = trained.test["churned_30d"].mean()
    assert test_metrics.loc["v2", "precision_top10"] > 3 * base_rate

    scored = trained.score_test().drop(columns=["churn_date"])
    no_dates = evaluate(scored, "churned_30d", {"v2": "p_v2"})
    assert math.isnan(no_dates.loc[0, "early_flag_share"])


def test_evaluate_rejects_non_binary_labels(trained: TrainedModels) -> None:
    scored = trained.score_test()
    scored.loc[scored.index[0], "churned_30d"] = 2
    with pytest.raises(ValueError, match="binary"):
        evaluate(scored, "churned_30d", {"v2": "p_v2"})


def test_calibration_plot_writes_png(trained: TrainedModels, tmp_path) -> None:
    path = calibration_plot(trained.score_test(), "churned_30d", {"v1": "p_v1", "v2": "p_v2"}, tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------------------
# monitoring
# --------------------------------------------------------------------------------------------------------


def test_psi_same_vs_shifted_distribution() -> None:
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.normal(0, 1, 20_000))
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert psi(reference, pd.Series(rng.normal(0, 1, 20_000))) < 0.01
    assert psi(reference, pd.Series(rng.normal(1, 1, 20_000))) > 0.25

    plans = pd.Series(rng.choice(["free", "pro"], 5_000, p=[0.7, 0.3]))
    assert psi(plans, pd.Series(rng.choice(["free", "pro"], 5_000, p=[0.7, 0.3]))) < 0.01
    assert psi(plans, pd.Series(rng.choice(["free", "pro"], 5_000, p=[0.2, 0.8]))) > 0.25
    # a feature that starts arriving NULL is drift
    assert psi(reference, pd.Series([np.nan] * 1_000 + list(rng.normal(0, 1, 1_000)))) > 0.25


def test_drift_report_and_retrain_decision(trained: TrainedModels, panel: pd.DataFrame) -> None:
    features = trained.v2.features
    current = latest_snapshot(trained.test)
    report = drift_report(trained.train, current, features)
    assert list(report.columns) == ["feature", "psi", "status"] and len(report) == len(features)
    # tenure only grows in a closed cohort with no new sign-ups: it is *supposed* to drift here
    assert report.iloc[0]["feature"] == "tenure_days" and report.iloc[0]["status"] == "drifted"
    stable = report[report["feature"] != "tenure_days"]
    assert set(stable["status"]) <= {"stable", "moderate"}, report

    shifted = current.assign(days_since_last_active=current["days_since_last_active"] + 10)
    drifted = drift_report(trained.train, shifted, features)
    assert drifted.iloc[0]["feature"] == "days_since_last_active" and drifted.iloc[0]["status"] == "drifted"

    predictions = pd.concat(
        [score(m, panel, reasons=False, n_threads=1) for m in trained.models.values()], ignore_index=True
    )
    realised = realised_outcomes(predictions, panel, min_age_days=30)
    assert list(realised["model_version"]) == ["v1", "v2"]
    cutoff = pd.to_datetime(panel["snapshot_date"]).max() - pd.Timedelta(days=30)
    assert (realised["window_end"] <= cutoff).all()
    assert realised["roc_auc"].between(0.7, 1).all() and realised["ece"].between(0, 0.1).all()

    needed, reasons = retrain_needed(stable, realised)
    assert not needed and reasons == []
    needed, reasons = retrain_needed(drifted, realised)
    assert needed and "days_since_last_active" in reasons[0]
    needed, reasons = retrain_needed(stable, {"model_version": "v2", "roc_auc": 0.6, "ece": 0.01, "n": 10_000})
    assert needed and "roc_auc" in reasons[0]


# --------------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------------


def test_all_null_feature_is_dropped_with_a_recorded_warning(panel: pd.DataFrame) -> None:
    small = panel[panel["user_id"] <= 1_500].assign(nps_score=np.nan)
    with pytest.warns(AllNullFeatureWarning, match="nps_score"):
        result = train_models(small, seed=SEED, n_threads=1)
    assert "nps_score" not in result.v2.features
    assert any("nps_score" in w for w in result.warnings)
    assert json.loads(result.registry_rows().loc[0, "params"])["dropped_features"] == ["nps_score"]
    # scoring does not need the dropped column
    assert len(score(result.v1, small.drop(columns="nps_score").head(10), n_threads=1)) == 10

    with pytest.raises(ValueError, match="nps_score"):
        train_models(small, on_all_null="raise", n_threads=1)


def test_empty_snapshot_raises_specific_error(trained: TrainedModels, panel: pd.DataFrame) -> None:
    empty = trained.test.iloc[0:0]
    with pytest.raises(EmptySnapshotError, match="no users"):
        score(trained.v2, empty)
    with pytest.raises(EmptySnapshotError):
        latest_snapshot(empty)
    with pytest.raises(EmptySnapshotError, match="no labelled rows"):
        train_models(panel.assign(churned_30d=pd.NA))
    assert issubclass(EmptySnapshotError, ValueError)


def test_non_binary_label_raises(panel: pd.DataFrame) -> None:
    bad = panel.copy()
    bad["churned_30d"] = bad["churned_30d"].astype("float64")
    bad.loc[bad.index[:5], "churned_30d"] = 2.0
    with pytest.raises(ValueError, match="binary"):
        train_models(bad)


def test_oracle_is_never_a_feature(panel: pd.DataFrame, trained: TrainedModels) -> None:
    assert "oracle_probability" not in trained.v1.features
    with pytest.raises(ValueError, match="oracle_probability"):
        train_models(panel, features=["days_since_last_active", "oracle_probability"])


def test_missing_feature_at_scoring_time_is_named(trained: TrainedModels) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="tickets_28d"):
            score(trained.v2, trained.test.drop(columns="tickets_28d").head(5))


def test_discovery_skips_dates_and_identifier_like_strings(panel: pd.DataFrame) -> None:
    small = panel[panel["user_id"] <= 1_000].copy()
    small["signup_date"] = pd.Timestamp("2023-01-01").date()
    small["email"] = "u" + small["user_id"].astype(str) + "@example.com"
    result = train_models(small, seed=SEED, n_threads=1)
    assert "signup_date" not in result.v1.features and "email" not in result.v1.features
    assert any("signup_date" in w for w in result.warnings) and any("email" in w for w in result.warnings)
    assert result.v1.spec.categorical == ("plan",)
