"""Upgrade propensity on a hand-made panel where engagement drives upgrades: later-time test, calibration."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pintel.recommend.upgrade import C_GRID, FEATURES, choose_c, evaluate_upgrade, score_latest, split_and_fit
from pintel.status import InsufficientData

START = dt.date(2025, 1, 6)


def _panel(snapshots: int = 6, users: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(snapshots):
        engagement = rng.normal(0, 1, users)
        active_7d = np.clip(np.round(3 + 2 * engagement + rng.normal(0, 1, users)), 0, 7)
        p = 1 / (1 + np.exp(-(-3.6 + 0.9 * engagement)))
        frame = pd.DataFrame({c: rng.poisson(3, users).astype(float) for c in FEATURES})
        frame["active_days_7d"] = active_7d
        frame["active_days_28d"] = np.clip(active_7d * 4 + rng.normal(0, 4, users), 0, 28).round()
        frame["user_id"] = [f"u{i}" for i in range(users)]
        frame["snapshot_date"] = START + dt.timedelta(days=7 * w)
        frame["plan"] = "free"
        frame["upgraded"] = (rng.random(users) < p).astype(float)
        rows.append(frame)
    panel = pd.concat(rows, ignore_index=True)
    panel.loc[panel["snapshot_date"] == panel["snapshot_date"].max(), "upgraded"] = np.nan  # horizon unseen
    return panel


def test_trained_on_earlier_snapshots_calibrated_and_better_than_the_baseline() -> None:
    panel = _panel()
    model, train, test = split_and_fit(panel)
    assert max(train["snapshot_date"]) < model.calibrated_through < min(test["snapshot_date"])
    metrics = evaluate_upgrade(panel).set_index("model")
    assert list(metrics.index) == ["v1", "baseline"]  # no truth given: no oracle row
    assert metrics.loc["v1", "ece"] < 0.03
    assert metrics.loc["v1", "roc_auc"] > metrics.loc["baseline", "roc_auc"] > 0.5
    scored = score_latest(panel)
    assert len(scored) == 1500 and scored["snapshot_date"].nunique() == 1
    assert scored["snapshot_date"].iloc[0] == panel["snapshot_date"].max()
    assert scored["upgrade_probability"].between(0, 1).all()


def test_too_little_history_or_too_few_upgrades_is_insufficient_data() -> None:
    with pytest.raises(InsufficientData, match=r"labelled snapshots, need ≥ 4"):
        split_and_fit(_panel(snapshots=4))
    rare = _panel()
    rare["upgraded"] = np.where(rare["upgraded"].notna(), 0.0, np.nan)
    rare.loc[:3, "upgraded"] = 1.0
    with pytest.raises(InsufficientData, match=r"0 upgrades, need ≥ 10 in the test window"):
        split_and_fit(rare)


def test_penalty_is_chosen_on_later_time_inside_the_training_window() -> None:
    informative = _panel()
    train = informative[informative["snapshot_date"] < START + dt.timedelta(days=21)]
    assert choose_c(train) >= 0.1  # a real signal on 4 500 rows: a light penalty predicts the next week best
    noise = train.copy()
    noise["upgraded"] = (np.random.default_rng(1).random(len(noise)) < 0.04).astype(float)
    assert choose_c(noise) == C_GRID[0]  # nothing to learn: the strongest penalty (near the base rate) wins
    assert choose_c(train[train["snapshot_date"] == START]) == C_GRID[-1]  # one snapshot: no fold, the default
