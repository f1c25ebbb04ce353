"""pintel.churn.evaluate: metrics side by side, label checks and the calibration plot."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pintel.churn import EVALUATION_COLUMNS, TrainedModels, calibration_plot, evaluate


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
