"""pintel.churn.features: which columns become features, and what happens to the ones that cannot."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from pintel.churn import AllNullFeatureWarning, TrainedModels, score, train_models
from tests.support.churn_panel import PANEL_SEED


def test_all_null_feature_is_dropped_with_a_recorded_warning(panel: pd.DataFrame) -> None:
    small = panel[panel["user_id"] <= 1_500].assign(nps_score=np.nan)
    with pytest.warns(AllNullFeatureWarning, match="nps_score"):
        result = train_models(small, seed=PANEL_SEED, n_threads=1)
    assert "nps_score" not in result.v2.features
    assert any("nps_score" in w for w in result.warnings)
    assert json.loads(result.registry_rows().loc[0, "params"])["dropped_features"] == ["nps_score"]
    # scoring does not need the dropped column
    assert len(score(result.v1, small.drop(columns="nps_score").head(10), n_threads=1)) == 10

    with pytest.raises(ValueError, match="nps_score"):
        train_models(small, on_all_null="raise", n_threads=1)


def test_all_null_feature_can_be_noted_without_a_python_warning(panel: pd.DataFrame) -> None:
    """The dbt model's mode: the drop is recorded, and nothing touches the process-wide warning filters."""
    small = panel[panel["user_id"] <= 1_500].assign(nps_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AllNullFeatureWarning)
        result = train_models(small, seed=PANEL_SEED, n_threads=1, on_all_null="note")
    assert "nps_score" not in result.v2.features
    assert [w for w in result.warnings if "nps_score" in w] == [
        "feature column 'nps_score' is entirely NULL in the training window; dropped"
    ]
    with pytest.raises(ValueError, match="on_all_null must be 'drop', 'note' or 'raise'"):
        train_models(small, on_all_null="ignore", n_threads=1)  # type: ignore[arg-type]


def test_oracle_is_never_a_feature(panel: pd.DataFrame, trained: TrainedModels) -> None:
    assert "oracle_probability" not in trained.v1.features
    with pytest.raises(ValueError, match="oracle_probability"):
        train_models(panel, features=["days_since_last_active", "oracle_probability"])


def test_discovery_skips_dates_and_identifier_like_strings(panel: pd.DataFrame) -> None:
    small = panel[panel["user_id"] <= 1_000].copy()
    small["signup_date"] = pd.Timestamp("2023-01-01").date()
    small["email"] = "u" + small["user_id"].astype(str) + "@example.com"
    result = train_models(small, seed=PANEL_SEED, n_threads=1)
    assert "signup_date" not in result.v1.features and "email" not in result.v1.features
    assert any("signup_date" in w for w in result.warnings) and any("email" in w for w in result.warnings)
    assert result.v1.spec.categorical == ("plan",)
