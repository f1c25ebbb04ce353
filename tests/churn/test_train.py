"""pintel.churn.train: both versions and the baseline on the synthetic panel -- quality, calibration,
determinism and bad labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.churn import TrainedModels, baseline_score, train_models
from tests.support.churn_panel import PANEL_SEED


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
    again = train_models(shuffled, seed=PANEL_SEED, n_threads=1)
    for version in ("v1", "v2"):
        first, second = trained.models[version], again.models[version]
        assert first.model_hash == second.model_hash
        np.testing.assert_array_equal(first.predict_proba(trained.test), second.predict_proba(trained.test))
    assert trained.v1.model_hash != trained.v2.model_hash


def test_baseline_is_monotone_in_recency(trained: TrainedModels) -> None:
    frame = pd.DataFrame({"days_since_last_active": [1, 3, 7, 14, 30, np.nan]})
    p = baseline_score(frame, trained.baseline).to_numpy()
    assert np.all(np.diff(p[:5]) >= 0) and p[5] >= p[4]


def test_non_binary_label_raises(panel: pd.DataFrame) -> None:
    bad = panel.copy()
    bad["churned_30d"] = bad["churned_30d"].astype("float64")
    bad.loc[bad.index[:5], "churned_30d"] = 2.0
    with pytest.raises(ValueError, match="binary"):
        train_models(bad)
