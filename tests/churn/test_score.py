"""pintel.churn.score: the public scoring function's output contract and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pintel.churn import EmptySnapshotError, TrainedModels, latest_snapshot, score, score_columns, train_models


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


def test_missing_feature_at_scoring_time_is_named(trained: TrainedModels) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="tickets_28d"):
            score(trained.v2, trained.test.drop(columns="tickets_28d").head(5))


def test_empty_snapshot_raises_specific_error(trained: TrainedModels, panel: pd.DataFrame) -> None:
    empty = trained.test.iloc[0:0]
    with pytest.raises(EmptySnapshotError, match="no users"):
        score(trained.v2, empty)
    with pytest.raises(EmptySnapshotError):
        latest_snapshot(empty)
    with pytest.raises(EmptySnapshotError, match="no labelled rows"):
        train_models(panel.assign(churned_30d=pd.NA))
    assert issubclass(EmptySnapshotError, ValueError)
