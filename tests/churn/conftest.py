"""The synthetic panel and the models trained on it, made once per test session.

The panel (3 000 users x 12 weekly snapshots, seed 0) comes from ``make_synthetic_panel``: latent engagement
drives activity features, and the weekly churn hazard has recency cliffs, a ticket threshold, a plan x
key-feature interaction and a U-shaped usage trend, so gradient boosting has something a linear model cannot
capture. Models are trained once (single OpenMP thread: fast and immune to a busy CI box).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pintel.churn import TrainedModels, train_models
from tests.support.churn_panel import PANEL_HORIZON_DAYS, PANEL_SEED, make_synthetic_panel


@pytest.fixture(scope="session")
def panel() -> pd.DataFrame:
    return make_synthetic_panel(n_users=3_000, n_snapshots=12, seed=PANEL_SEED)


@pytest.fixture(scope="session")
def trained(panel: pd.DataFrame) -> TrainedModels:
    return train_models(panel, seed=PANEL_SEED, n_threads=1)


@pytest.fixture(scope="session")
def test_metrics(trained: TrainedModels) -> pd.DataFrame:
    return trained.evaluate_test(horizon_days=PANEL_HORIZON_DAYS).set_index("model")
