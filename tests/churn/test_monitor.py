"""pintel.churn.monitor: PSI drift, realised outcomes of matured predictions and the retrain decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.churn import TrainedModels, drift_report, latest_snapshot, psi, realised_outcomes, retrain_needed, score
from pintel.churn.monitor import clock_features, weighted_psi


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
    assert list(report.columns) == ["feature", "psi", "status", "importance", "clock"] and len(report) == len(features)
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


def test_clock_features_drift_by_construction_and_never_trip_the_flag(
    trained: TrainedModels, panel: pd.DataFrame
) -> None:
    features = trained.v2.features
    clock = clock_features(panel, features)
    assert clock == ["tenure_days"]  # grows by 7 a week; nothing else in the panel does
    current = latest_snapshot(trained.test)
    importance = trained.v2.params["feature_importance"]
    assert set(importance) == set(features) and sum(importance.values()) == pytest.approx(1.0, abs=1e-4)
    report = drift_report(trained.train, current, features, importance=importance, clock=clock).set_index("feature")
    # tenure drifts beyond the 0.25 line in this closed cohort, but it is a clock: no weight, no vote
    assert report.loc["tenure_days", "psi"] > 0.25 and report.loc["tenure_days", "status"] == "clock"
    assert report.loc["tenure_days", "importance"] == 0.0 and report["importance"].sum() == pytest.approx(1.0)
    assert weighted_psi(report) < 0.1
    assert retrain_needed(report.reset_index(), None) == (False, [])
    # without the clock marking, the same report trips the flag on tenure alone (what main did every run)
    plain = drift_report(trained.train, current, features)
    needed, reasons = retrain_needed(plain, None)
    assert needed and "tenure_days" in reasons[0]

    # the feature that matters most moving trips it, weighted by its importance
    top = max((f for f in features if f not in clock), key=lambda f: importance[f])
    categorical = top in trained.v2.spec.categorical
    moved = current.assign(**{top: "enterprise" if categorical else current[top] * 3 + 10})
    shifted = drift_report(trained.train, moved, features, importance=importance, clock=clock)
    needed, reasons = retrain_needed(shifted, None)
    assert needed and top in " ".join(reasons)
