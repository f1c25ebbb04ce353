"""Upgrade propensity: P(a free-plan user moves to a paid plan within the horizon), calibrated, point in time.

Decision it drives: whom to show an upgrade offer (and whom not to pester). Built like churn v1, on the same
point-in-time features (``fct_user_features``: every column computed from activity before the snapshot, the
plan in force at it) and the same weekly snapshots; only the population (users on a free plan -- a plan the
seed catalogue marks ``is_paid = false`` -- at the snapshot) and the label differ.

Label (``upgraded``): the user's plan history (``dim_user_plans``, SCD 2 from ``int_user_plans_versioned``) has a
paid plan starting in ``[s, s + horizon)``; unobservable (dropped) while ``s + horizon`` is after ``as_of``.

Time split, later time only: the last :data:`TEST_SNAPSHOTS` labelled snapshots are the test window, the
:data:`CALIBRATION_SNAPSHOTS` before them calibrate, everything earlier trains. Model: L2 logistic regression
on log1p counts (standardised; the penalty chosen by forward-chaining time-split CV inside the training window,
:func:`choose_c`), then Platt scaling on the calibration window -- Platt rather than isotonic
because upgrades are rare (a few per cent) and isotonic steps on a few dozen positives are noise. Beside it,
the baseline (``active_days_28d`` alone, isotonic on the training window: "engaged users upgrade") and, on
simulated data, the oracle (the simulator's true probability).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from pintel.churn.evaluation import expected_calibration_error
from pintel.status import need

__all__ = [
    "FEATURES",
    "MIN_POSITIVES",
    "UpgradeModel",
    "evaluate_upgrade",
    "fit_upgrade",
    "upgrade_frame",
]

#: Point-in-time columns of fct_user_features the model reads (counts get log1p).
FEATURES = (
    "days_since_last_active",
    "active_days_7d",
    "active_days_28d",
    "events_7d",
    "events_28d",
    "trend_7d_vs_28d",
    "sessions_28d",
    "avg_session_minutes_28d",
    "feature_breadth_28d",
    "key_feature_adopted",
    "tickets_28d",
    "tenure_days",
    "seats",
)
BASELINE_FEATURE = "active_days_28d"
TEST_SNAPSHOTS = 1
CALIBRATION_SNAPSHOTS = 1
MIN_TRAIN_SNAPSHOTS = 2
#: Candidate inverse L2 strengths for :func:`choose_c`, strongest penalty first (1.0 was the fixed default).
C_GRID = (0.001, 0.01, 0.1, 1.0)
#: Upgrades needed in each of the training, calibration and test windows before any number means something.
MIN_POSITIVES = 10


def upgrade_frame(
    features: pd.DataFrame, plans: pd.DataFrame, free_plans: set[str], horizon_days: int, as_of: dt.date
) -> pd.DataFrame:
    """Free-plan rows of ``features`` with ``upgraded`` (NaN when the horizon is not observed by ``as_of``)."""
    rows = features[features["plan"].isin(free_plans)].copy()
    rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    paid = plans[~plans["plan"].isin(free_plans)][["user_id", "valid_from"]].copy()
    paid["valid_from"] = pd.to_datetime(paid["valid_from"]).dt.date
    joined = rows[["user_id", "snapshot_date"]].merge(paid, on="user_id", how="inner")
    delta = np.array(
        [(v - s).days for v, s in zip(joined["valid_from"], joined["snapshot_date"], strict=True)], dtype=np.int64
    )
    hit = joined[(delta >= 0) & (delta < horizon_days)] if len(joined) else joined
    keys = set(zip(hit["user_id"], hit["snapshot_date"], strict=True))
    rows["upgraded"] = [float((u, s) in keys) for u, s in zip(rows["user_id"], rows["snapshot_date"], strict=True)]
    observed = np.array([s + dt.timedelta(days=horizon_days) <= as_of for s in rows["snapshot_date"]], dtype=bool)
    rows.loc[~observed, "upgraded"] = np.nan
    return rows.reset_index(drop=True)


def _matrix(df: pd.DataFrame) -> np.ndarray:
    return df[list(FEATURES)].astype(float).fillna(0.0).to_numpy()


@dataclass
class UpgradeModel:
    """The fitted pipeline and its Platt calibrator, with the windows they saw."""

    pipeline: object
    platt: LogisticRegression
    trained_through: dt.date
    calibrated_through: dt.date
    C: float = 1.0  # the L2 strength time-split CV chose

    def raw(self, df: pd.DataFrame) -> np.ndarray:
        return self.pipeline.decision_function(_matrix(df))

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return self.platt.predict_proba(self.raw(df)[:, None])[:, 1]


def _windows(labelled: pd.DataFrame) -> tuple[list, list, list]:
    dates = sorted(labelled["snapshot_date"].unique())  # snapshots with a free-plan user and a seen horizon
    if len(dates) < TEST_SNAPSHOTS + CALIBRATION_SNAPSHOTS + MIN_TRAIN_SNAPSHOTS:
        raise need(
            len(dates),
            "labelled snapshot",
            TEST_SNAPSHOTS + CALIBRATION_SNAPSHOTS + MIN_TRAIN_SNAPSHOTS,
            what="to train, calibrate and test on later time",
        )
    test = dates[-TEST_SNAPSHOTS:]
    calib = dates[-TEST_SNAPSHOTS - CALIBRATION_SNAPSHOTS : -TEST_SNAPSHOTS]
    return dates[: -TEST_SNAPSHOTS - CALIBRATION_SNAPSHOTS], calib, test


def _positives(df: pd.DataFrame, window: str) -> None:
    pos = int(df["upgraded"].sum())
    if pos < MIN_POSITIVES or pos == len(df):
        raise need(pos, "upgrade", MIN_POSITIVES, what=f"in the {window} window")


def _pipeline(C: float) -> object:
    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(C=C, max_iter=1000))


def choose_c(train: pd.DataFrame) -> float:
    """The L2 strength by forward-chaining time-split CV inside ``train``: fit on the snapshots before each later
    one, score the later one's log loss, keep the :data:`C_GRID` value with the least total (ties: the stronger
    penalty). With fewer than two training snapshots, or a fold without both outcomes, the grid's weakest
    penalty is kept -- the previous default, so small data behaves as before.
    """
    dates = sorted(train["snapshot_date"].unique())
    folds = [(train[train["snapshot_date"] < d], train[train["snapshot_date"] == d]) for d in dates[1:]]
    folds = [(a, b) for a, b in folds if a["upgraded"].nunique() == 2 and b["upgraded"].nunique() == 2]
    if not folds:
        return C_GRID[-1]
    loss = {
        C: sum(
            log_loss(
                b["upgraded"].astype(int),
                _pipeline(C).fit(_matrix(a), a["upgraded"].astype(int)).predict_proba(_matrix(b))[:, 1],
                labels=[0, 1],
            )
            for a, b in folds
        )
        for C in C_GRID
    }
    return min(C_GRID, key=lambda C: (round(loss[C], 9), C))


def fit_upgrade(train: pd.DataFrame, calib: pd.DataFrame) -> UpgradeModel:
    """Logistic regression on ``train`` (penalty by :func:`choose_c`), Platt-scaled on ``calib`` (later in time)."""
    _positives(train, "training")
    _positives(calib, "calibration")
    C = choose_c(train)
    pipeline = _pipeline(C)
    pipeline.fit(_matrix(train), train["upgraded"].astype(int))
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(pipeline.decision_function(_matrix(calib))[:, None], calib["upgraded"].astype(int))
    return UpgradeModel(pipeline, platt, max(train["snapshot_date"]), max(calib["snapshot_date"]), C)


def split_and_fit(frame: pd.DataFrame) -> tuple[UpgradeModel, pd.DataFrame, pd.DataFrame]:
    """(model, its training rows, the later test rows) from an :func:`upgrade_frame`."""
    labelled = frame[frame["upgraded"].notna()]
    train_d, calib_d, test_d = _windows(labelled)
    pick = labelled["snapshot_date"].isin
    train, calib, test = labelled[pick(train_d)], labelled[pick(calib_d)], labelled[pick(test_d)]
    _positives(test, "test")
    return fit_upgrade(train, calib), train, test


def _row(name: str, y: np.ndarray, p: np.ndarray, test: pd.DataFrame) -> dict:
    return {
        "model": name,
        "test_from": min(test["snapshot_date"]),
        "test_to": max(test["snapshot_date"]),
        "roc_auc": float(roc_auc_score(y, p)),
        "ece": expected_calibration_error(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "n": len(y),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()),
    }


def evaluate_upgrade(frame: pd.DataFrame, truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """``ml_upgrade_metrics``: v1, baseline and (with ``truth``) oracle on the test window."""
    model, train, test = split_and_fit(frame)
    y = test["upgraded"].to_numpy(float)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(train[BASELINE_FEATURE].astype(float), train["upgraded"].astype(float))
    rows = [
        _row("v1", y, model.predict(test), test),
        _row("baseline", y, iso.predict(test[BASELINE_FEATURE].astype(float)), test),
    ]
    if truth is not None and len(truth):
        t = truth.copy()
        t["snapshot_date"] = pd.to_datetime(t["snapshot_date"]).dt.date
        joined = test.merge(t, on=["user_id", "snapshot_date"], how="inner").dropna(
            subset=["upgrade_oracle_probability"]
        )
        if len(joined) and joined["upgraded"].nunique() == 2:
            rows.append(
                _row(
                    "oracle",
                    joined["upgraded"].to_numpy(float),
                    joined["upgrade_oracle_probability"].to_numpy(float),
                    joined,
                )
            )
    return pd.DataFrame(rows)


def score_latest(frame: pd.DataFrame, version: str = "v1") -> pd.DataFrame:
    """Predictions for the latest snapshot's free-plan users, from the model fitted on the labelled history."""
    model, _, _ = split_and_fit(frame)
    latest = frame[frame["snapshot_date"] == max(frame["snapshot_date"])]
    return pd.DataFrame(
        {
            "user_id": latest["user_id"].astype(str).to_numpy(),
            "snapshot_date": latest["snapshot_date"].to_numpy(),
            "upgrade_probability": model.predict(latest),
            "model_version": version,
            "trained_through": model.calibrated_through,
        }
    )
