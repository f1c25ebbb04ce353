"""pintel.churn.registry: registry rows and the model BLOB round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pintel.churn import REGISTRY_COLUMNS, TrainedModels, dump_model, load_model, load_model_from_registry


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
