"""pintel.churn.calibration: the prior-shift adjustment to the latest realised churn rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pintel.churn import TrainedModels, expected_calibration_error, train_models
from pintel.churn.calibration import apply_shift, fit_prior_shift, recent_mask
from tests.support.churn_panel import PANEL_HORIZON_DAYS, PANEL_SEED


def test_prior_shift_recovers_a_planted_change_of_base_rate() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 40_000)
    before = expit(-2.5 + 1.2 * x)  # a calibrated model of the old world
    y_after = rng.random(x.size) < expit(-2.5 + 1.0 + 1.2 * x)  # the churn odds grew by e^1
    dates = np.repeat(pd.to_datetime(["2025-03-03", "2025-03-10"]), x.size // 2)
    shift = fit_prior_shift(before, y_after, dates)
    assert shift.delta == pytest.approx(1.0, abs=0.06)
    adjusted = apply_shift(before, shift.raw_delta)
    assert adjusted.mean() == pytest.approx(y_after.mean(), abs=1e-6)  # solved to the realised rate exactly
    assert 0.99 * shift.raw_delta < shift.delta < shift.raw_delta  # a clear change is barely shrunk
    adjusted = apply_shift(before, shift.delta)
    assert shift.window_start == "2025-03-03" and shift.window_end == "2025-03-10"
    assert expected_calibration_error(y_after, before) > 0.05 > 0.01 > expected_calibration_error(y_after, adjusted)
    # the same world without a change: the shift the sample noise suggests is shrunk below that noise
    y_same = rng.random(x.size) < before
    same = fit_prior_shift(before[:4000], y_same[:4000], dates[:4000])
    assert abs(same.delta) < abs(same.raw_delta) and abs(same.delta) < same.standard_error
    # nothing to learn from a single class: no shift rather than an infinite one
    assert fit_prior_shift(before[:100], np.zeros(100), dates[:100]).delta == 0.0
    assert np.array_equal(apply_shift(before, 0.0), before)


def test_recent_mask_reaches_back_until_enough_churners() -> None:
    dates = pd.to_datetime(np.repeat(["2025-01-06", "2025-01-13", "2025-01-20"], 4))
    y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0])  # three snapshots, newest last
    assert recent_mask(dates, y, min_positives=1).tolist() == [False] * 8 + [True] * 4
    assert recent_mask(dates, y, min_positives=3).tolist() == [False] * 4 + [True] * 8
    assert recent_mask(dates, y, min_positives=50).all()  # fewer in the whole frame: all of it


@pytest.fixture(scope="module")
def rate_change(panel: pd.DataFrame) -> TrainedModels:
    """The panel with its churn rate doubled from the last calibrate snapshot on: a random 55 % of the
    non-churners leave those snapshots (pure label shift: who churns and why stays the same)."""
    dates = np.sort(panel["snapshot_date"].unique())
    changed_from = dates[9]  # 12 labelled snapshots: train 0-6, calibrate 7-9, test 10-11
    rng = np.random.default_rng(PANEL_SEED)
    late = (panel["snapshot_date"] >= changed_from).to_numpy()
    drop = late & (panel["churned_30d"] == 0).to_numpy() & (rng.random(len(panel)) < 0.55)
    changed = panel[~drop].reset_index(drop=True)
    return train_models(changed, seed=PANEL_SEED, n_threads=1)


def test_a_changed_churn_rate_is_corrected_on_later_snapshots(rate_change: TrainedModels) -> None:
    trained = rate_change
    test = trained.test
    y = test["churned_30d"].to_numpy()
    assert y.mean() > 0.15  # about twice the panel's rate
    for model in trained.models.values():
        shift = model.params["prior_shift"]
        assert shift["window_end"] == str(pd.Timestamp(trained.calibrate["snapshot_date"].max()).date())
        assert model.logit_shift > 0.3  # churn became likelier
        adjusted = model.predict_proba(test)
        unadjusted = apply_shift(adjusted, -model.logit_shift)
        ece_before, ece_after = (expected_calibration_error(y, p) for p in (unadjusted, adjusted))
        assert ece_after < 0.03 and ece_after < ece_before / 2, (model.version, ece_before, ece_after)
    metrics = trained.evaluate_test(horizon_days=PANEL_HORIZON_DAYS).set_index("model")
    assert metrics.loc["v2", "ece"] < 0.03
