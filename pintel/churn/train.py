"""Train both model versions and the naive baseline on the same time-ordered windows.

Two versions are trained on the same windows so they can be compared honestly (``v1`` =
:class:`~pintel.churn.logistic.LogisticChurnModel`, ``v2`` = :class:`~pintel.churn.boosted.BoostedChurnModel`),
next to the heuristic every model must beat: "how long since we last saw them". Both are deterministic for a
given data set and seed, and carry a ``model_hash`` so every stored prediction can be traced to the exact
model that made it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn
from sklearn.isotonic import IsotonicRegression

from pintel.churn.boosted import BoostedChurnModel
from pintel.churn.calibration import PriorShift, apply_shift, fit_prior_shift, recent_mask
from pintel.churn.columns import DATE_COL, ID_COL, LABEL_COL, ORACLE_COL, EmptySnapshotError, as_binary_labels
from pintel.churn.evaluation import evaluate
from pintel.churn.features import discover_features
from pintel.churn.logistic import LogisticChurnModel
from pintel.churn.model import RISK_BAND_QUANTILES, ChurnModel, TrainingContext, model_hash, thread_limit
from pintel.churn.operating import RetentionCosts
from pintel.churn.registry import registry_frame
from pintel.churn.split import time_split

__all__ = [
    "MODEL_CLASSES",
    "BaselineModel",
    "TrainedModels",
    "baseline_score",
    "finalise_calibration",
    "fit_baseline",
    "train_models",
]

#: The model class behind each served version (``churn_predictions`` v1 / v2).
MODEL_CLASSES: dict[str, type[ChurnModel]] = {"v1": LogisticChurnModel, "v2": BoostedChurnModel}


@dataclass
class BaselineModel:
    """The heuristic every model must beat: "how long since we last saw them", turned into a probability by
    a monotone (isotonic) fit on the training window, so its Brier/ECE are comparable with the models'."""

    feature: str
    never_seen_value: float
    isotonic: IsotonicRegression

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        x = df[self.feature].to_numpy(dtype=np.float64, na_value=np.nan)
        return self.isotonic.predict(np.where(np.isnan(x), self.never_seen_value, x))


def fit_baseline(
    train_df: pd.DataFrame, *, feature: str = "days_since_last_active", label_col: str = LABEL_COL
) -> BaselineModel:
    """Fit the recency baseline on labelled training rows. NULL recency (never active) is treated as the
    largest recency seen in training: "never seen" is at least as bad as "not seen for ages"."""
    data = train_df[train_df[label_col].notna()]
    if data.empty:
        raise EmptySnapshotError("fit_baseline() got no labelled rows")
    x = data[feature].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(x).all():
        raise ValueError(f"baseline feature {feature!r} is entirely NULL")
    never = float(np.nanmax(x))
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.where(np.isnan(x), never, x), as_binary_labels(data[label_col], label_col))
    return BaselineModel(feature=feature, never_seen_value=never, isotonic=iso)


def baseline_score(df: pd.DataFrame, baseline: BaselineModel) -> pd.Series:
    """Baseline churn probability for each row of ``df`` (index aligned), from a :func:`fit_baseline` fit."""
    return pd.Series(baseline.predict(df), index=df.index, name="baseline_probability")


@dataclass
class TrainedModels:
    """Result of :func:`train_models`: both versions, the baseline, the three time windows and notes."""

    v1: ChurnModel
    v2: ChurnModel
    baseline: BaselineModel | None
    train: pd.DataFrame
    calibrate: pd.DataFrame
    test: pd.DataFrame
    warnings: list[str]
    label_col: str = LABEL_COL

    @property
    def models(self) -> dict[str, ChurnModel]:
        return {"v1": self.v1, "v2": self.v2}

    def registry_rows(self, *, include_blob: bool = False) -> pd.DataFrame:
        """Rows for ``ml_model_registry``: :data:`~pintel.churn.registry.REGISTRY_COLUMNS` (+ ``model_blob``)."""
        return registry_frame(self.models.values(), include_blob=include_blob)

    def score_test(self) -> pd.DataFrame:
        """The held-out test window with ``p_v1``, ``p_v2`` (and ``p_baseline``) appended."""
        out = self.test.copy()
        for name, model in self.models.items():
            out[f"p_{name}"] = model.predict_proba(self.test)
        if self.baseline is not None:
            out["p_baseline"] = self.baseline.predict(self.test)
        return out

    def evaluate_test(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`~pintel.churn.evaluation.evaluate` on the test window for v1, v2, baseline and (if present) the
        oracle; ``kwargs`` go to it (``horizon_days`` is needed when the test rows carry churn dates)."""
        scored = self.score_test()
        cols = {name: f"p_{name}" for name in self.models}
        if self.baseline is not None:
            cols["baseline"] = "p_baseline"
        if ORACLE_COL in scored.columns and scored[ORACLE_COL].notna().all():
            cols["oracle"] = ORACLE_COL
        return evaluate(scored, self.label_col, cols, **kwargs)


def _fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of the training data (column names + every value), independent of row order upstream
    because the windows arrive sorted by (date, id)."""
    digest = hashlib.sha256(json.dumps(list(map(str, frame.columns))).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _window_shift(model: ChurnModel, window: pd.DataFrame, label_col: str, date_col: str) -> PriorShift:
    """The prior shift that takes ``model``'s probabilities to ``window``'s latest realised churn rate
    (:func:`~pintel.churn.calibration.recent_mask` picks the newest snapshots with enough churners)."""
    y = as_binary_labels(window[label_col], label_col)
    recent = recent_mask(window[date_col], y)
    rows = window[recent]
    return fit_prior_shift(model.predict_proba(rows), y[recent], rows[date_col])


#: Rows of the calibrate window (evenly spaced) whose contributions measure each feature's importance.
IMPORTANCE_ROWS = 5_000


def feature_importance(model: ChurnModel, window: pd.DataFrame) -> dict[str, float]:
    """Each feature's share of the mean absolute log-odds contribution on ``window`` (evenly spaced rows, at
    most :data:`IMPORTANCE_ROWS`): what monitoring weighs a feature's drift by. Model-agnostic, from the same
    contributions the reasons use."""
    rows = window.iloc[np.unique(np.linspace(0, len(window) - 1, min(len(window), IMPORTANCE_ROWS)).astype(int))]
    weight = model.contributions(rows).abs().mean()
    total = float(weight.sum())
    return {f: round(float(w) / total, 6) if total > 0 else 0.0 for f, w in weight.items()}


def finalise_calibration(
    model: ChurnModel,
    calibrate: pd.DataFrame,
    test: pd.DataFrame,
    *,
    costs: RetentionCosts | None,
    fingerprint: str,
    label_col: str = LABEL_COL,
    date_col: str = DATE_COL,
) -> ChurnModel:
    """``model`` with its prior shifts, operating point and bands, re-hashed.

    * ``logit_shift``: solved on the newest snapshots of the *calibrate* window (the latest labelled data
      before the test window), so ``ml_churn_metrics`` judges the adjusted model on later data it never saw.
    * ``params["serving_prior_shift"]``: the same, solved on the newest snapshots of the *test* window, the
      most recent fully labelled data there is; :meth:`~pintel.churn.model.ChurnModel.for_serving` uses it
      to score today's snapshot.
    * ``params["feature_importance"]``: :func:`feature_importance` on the calibrate window (drift weights).
    * Bands: ``high`` at the cost-weighted threshold ``costs.threshold`` when costs are given (else the 90th
      percentile of the adjusted calibrate probabilities), ``medium`` at their 70th percentile, capped at
      ``high`` (so a low threshold leaves the medium band empty rather than above high).
    """
    backtest = _window_shift(model, calibrate, label_col, date_col)
    shifted = dataclasses.replace(model, logit_shift=backtest.delta)
    serving = _window_shift(shifted, test, label_col, date_col)
    calibrated = apply_shift(model.predict_proba(calibrate), backtest.delta)
    quantiles = {band: float(np.quantile(calibrated, q)) for band, q in RISK_BAND_QUANTILES.items()}
    high = costs.threshold if costs is not None else quantiles["high"]
    bands = {"high": high, "medium": min(quantiles["medium"], high)}
    params = {
        **model.params,
        "risk_band_thresholds": bands,
        "prior_shift": backtest.as_params(),
        "serving_prior_shift": {**serving.as_params(), "delta": round(backtest.delta + serving.delta, 6)},
        "feature_importance": feature_importance(model, calibrate),
        **(costs.as_params() if costs is not None else {}),
    }
    return dataclasses.replace(
        shifted,
        band_thresholds=bands,
        params=params,
        model_hash=model_hash(model.version, model.features, params, fingerprint),
    )


def _check_both_classes(y: np.ndarray, window: str) -> None:
    if y.min() == y.max():
        raise ValueError(f"the {window} window has only label {int(y[0])}; need churners and non-churners")


def train_models(
    df: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    label_col: str = LABEL_COL,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    gap_days: int = 0,
    seed: int = 0,
    on_all_null: Literal["drop", "note", "raise"] = "drop",
    v1_params: Mapping[str, Any] | None = None,
    v2_params: Mapping[str, Any] | None = None,
    baseline_feature: str = "days_since_last_active",
    trained_at: pd.Timestamp | str | None = None,
    n_threads: int | None = None,
    costs: RetentionCosts | None = None,
) -> TrainedModels:
    """Train v1 and v2 (and the recency baseline) on a :func:`~pintel.churn.split.time_split` of ``df``.

    * v1 fits on *train*; v2's trees fit on *train* and its calibrator (isotonic with enough churners and
      non-churners in the window, else sigmoid) on *calibrate*. Both versions derive their risk-band
      cut-offs from the calibrate window; *test* is never touched.
    * Deterministic: windows are sorted, lbfgs and the trees are seeded (``random_state=seed``), early
      stopping is off. Same data + seed -> identical probabilities and identical ``model_hash``.
    * ``model_hash`` = sha256 of version + feature list + params (incl. sklearn version and seed) + a content
      fingerprint of the train and calibrate windows. ``trained_at`` (UTC, naive) is deliberately not part of
      it, so retraining on unchanged data is recognisably the same model.
    * ``v1_params`` / ``v2_params`` override the classes' ``DEFAULT_V1_PARAMS`` / ``DEFAULT_V2_PARAMS``.
    * ``n_threads`` caps OpenMP threads while fitting (see :func:`~pintel.churn.model.thread_limit`); results
      do not depend on it.
    * Then :func:`finalise_calibration`: the prior-shift adjustment to the latest realised churn rate and the
      high-risk band at the cost-weighted threshold of ``costs`` (quantile bands without costs). The hash
      then also covers the test window's content, whose labels the serving shift reads.

    Raises :class:`EmptySnapshotError` for an empty frame or no labelled rows, ``ValueError`` for missing
    columns, duplicate ``(id, date)`` rows, non-binary labels, a window with a single class, or an all-NULL
    feature under ``on_all_null="raise"``.
    """
    missing = [c for c in (id_col, date_col, label_col) if c not in df.columns]
    if missing:
        raise ValueError(f"training frame lacks required columns {missing}")
    if df.empty:
        raise EmptySnapshotError("training frame is empty")
    if df.duplicated([id_col, date_col]).any():
        raise ValueError(f"duplicate ({id_col}, {date_col}) rows: the feature table must have that grain")

    train, calibrate, test = time_split(df, date_col, label_col, fractions, gap_days=gap_days, id_col=id_col)
    spec, notes = discover_features(
        train,
        features=features,
        exclude=exclude,
        id_col=id_col,
        date_col=date_col,
        label_col=label_col,
        on_all_null=on_all_null,
    )
    y_train = as_binary_labels(train[label_col], label_col)
    y_cal = as_binary_labels(calibrate[label_col], label_col)
    _check_both_classes(y_train, "train")
    _check_both_classes(y_cal, "calibrate")

    fit_cols = [id_col, date_col, label_col, *spec.features]
    train_dates, cal_dates = pd.to_datetime(train[date_col]), pd.to_datetime(calibrate[date_col])
    stamp = pd.Timestamp(trained_at) if trained_at is not None else pd.Timestamp.now(tz="UTC")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    context = TrainingContext(
        spec=spec,
        x_train=spec.prepare(train),
        y_train=y_train,
        x_calibrate=spec.prepare(calibrate),
        y_calibrate=y_cal,
        seed=seed,
        common_params={
            "seed": seed,
            "sklearn_version": sklearn.__version__,
            "categorical_features": list(spec.categorical),
            "dropped_features": list(spec.dropped),
            "n_train": len(train),
            "n_calibrate": len(calibrate),
            "train_positive_rate": round(float(y_train.mean()), 6),
            "calibrate_window": [str(cal_dates.min().date()), str(cal_dates.max().date())],
            "gap_days": gap_days,
        },
        fingerprint=_fingerprint(pd.concat([train[fit_cols], calibrate[fit_cols]], ignore_index=True)),
        trained_at=stamp.floor("s"),
        train_start=train_dates.min(),
        train_end=train_dates.max(),
        notes=notes,
    )
    overrides = {"v1": v1_params, "v2": v2_params}
    with thread_limit(n_threads):
        v1, v2 = (MODEL_CLASSES[v].fit(v, context, overrides[v]) for v in ("v1", "v2"))
        fingerprint = _fingerprint(pd.concat([train[fit_cols], calibrate[fit_cols], test[fit_cols]], ignore_index=True))
        v1, v2 = (
            finalise_calibration(
                m, calibrate, test, costs=costs, fingerprint=fingerprint, label_col=label_col, date_col=date_col
            )
            for m in (v1, v2)
        )

    baseline = None
    if baseline_feature in train.columns and train[baseline_feature].notna().any():
        baseline = fit_baseline(train, feature=baseline_feature, label_col=label_col)
    else:
        notes.append(f"baseline feature {baseline_feature!r} unavailable; no baseline fitted")
    return TrainedModels(v1, v2, baseline, train, calibrate, test, notes, label_col)
