"""Churn prediction on the ``fct_user_features`` snapshot table: train, score with reasons, evaluate, persist.

One row per ``(user_id, snapshot_date)`` (weekly snapshots), features computed only from events before the
snapshot, label ``churned_30d`` (NULL while the 30-day horizon is still open). The library is deliberately
generic: feature columns are *discovered* (every column except id / date / label / evaluation-only columns)
or passed explicitly, and string columns are one-hot encoded inside the fitted pipeline, so adding a feature
to the dbt model needs no change here.

Two model versions are trained on the same time-ordered windows so they can be compared honestly:

* **v1**: standardised L2 logistic regression. Transparent (exact per-feature log-odds contributions), cheap,
  and, fitted on plain log-loss without class re-weighting, its probabilities are close to calibrated as-is
  (checked, not assumed: ``evaluate`` reports its ECE next to v2's).
* **v2**: ``HistGradientBoostingClassifier`` for the non-linear effects churn is full of (recency cliffs,
  plan x adoption interactions), calibrated on a *later* time window than it was fitted on, because boosted
  trees are not calibrated out of the box and calibrating on the fitting window hides overfit.

Both are deterministic for a given data set and seed, and carry a ``model_hash`` so every stored prediction
can be traced to the exact model that made it. The monitoring half (PSI drift, realised performance,
retrain decision) lives in :mod:`pintel.ml.drift`, metrics/plots in :mod:`pintel.ml.metrics`; both are
re-exported here so dbt Python models need a single import.

Column contract (defaults; every function takes overrides): ``user_id``, ``snapshot_date``, ``churned_30d``;
optional evaluation-only ``oracle_probability`` (simulated truth, never a feature) and ``churn_date``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import io
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from pintel.ml.drift import (
    RetrainThresholds,
    drift_report,
    psi,
    psi_status,
    realised_outcomes,
    retrain_needed,
)
from pintel.ml.metrics import (
    EVALUATION_COLUMNS,
    EmptySnapshotError,
    as_binary_labels,
    calibration_plot,
    early_flag_share,
    evaluate,
    expected_calibration_error,
)

__all__ = [
    "CHURN_DATE_COL",
    "DATE_COL",
    "EVALUATION_COLUMNS",
    "ID_COL",
    "LABEL_COL",
    "ORACLE_COL",
    "REGISTRY_COLUMNS",
    "AllNullFeatureWarning",
    "BaselineModel",
    "ChurnModel",
    "EmptySnapshotError",
    "FeatureSpec",
    "RetrainThresholds",
    "TrainedModels",
    "baseline_score",
    "calibration_plot",
    "discover_features",
    "drift_report",
    "dump_model",
    "early_flag_share",
    "evaluate",
    "expected_calibration_error",
    "fit_baseline",
    "latest_snapshot",
    "load_model",
    "load_model_from_registry",
    "make_synthetic_panel",
    "psi",
    "psi_status",
    "realised_outcomes",
    "retrain_needed",
    "score",
    "score_columns",
    "time_split",
    "train_models",
]

ID_COL = "user_id"
DATE_COL = "snapshot_date"
LABEL_COL = "churned_30d"
#: Simulated true probability. Evaluation only: accepting it as a feature would leak the answer.
ORACLE_COL = "oracle_probability"
#: Date the user churned (NULL if not, or not yet). Evaluation only (``early_flag_share``): it is the future.
CHURN_DATE_COL = "churn_date"
EVALUATION_ONLY_COLUMNS = (ORACLE_COL, CHURN_DATE_COL)

#: Feature discovery skips string columns with more distinct values than this (see ``discover_features``).
MAX_DISCOVERED_LEVELS = 50

#: Stand-in category for NULL strings, so "plan unknown" is a level of its own rather than an error.
MISSING_CATEGORY = "__missing__"

#: Risk bands are absolute probability cut-offs frozen at training time: the 90th / 70th percentile of the
#: model's calibrated probabilities on the calibrate window. So "high" is the top decile of a typical
#: training-period week, "medium" the next two deciles. Frozen (not re-ranked per scoring run) so bands mean
#: the same thing every week: if the whole base gets riskier, the *share* of high-risk users rises, which is
#: itself a signal, instead of always being 10 %.
RISK_BAND_QUANTILES: dict[str, float] = {"high": 0.90, "medium": 0.70}

#: Isotonic calibration needs enough events per step to not overfit (scikit-learn warns well below 1 000
#: samples); below these counts in the calibrate window v2 falls back to Platt (sigmoid) scaling.
ISOTONIC_MIN_POSITIVES = 200
ISOTONIC_MIN_ROWS = 2_000

#: v2 explanations run in row chunks of this size, bounding the extra memory to a few hundred MB.
CONTRIBUTION_CHUNK_ROWS = 100_000

#: A feature becomes a reason only when it raises the log-odds by more than this (~1 % of the odds);
#: smaller pushes are noise and would fill reason slots with trivia.
REASON_MIN_LOGODDS = 0.01

DEFAULT_V1_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 2_000, "tol": 1e-6}
#: Small, strongly regularised trees: weekly snapshots of the same users are highly correlated, so the
#: effective sample is far smaller than the row count and deeper trees mostly learn noise (on the synthetic
#: panel, 31-leaf trees lose to the linear model while 6-leaf trees beat it on every seed tried). 75 trees
#: at learning rate 0.1 match 150 at 0.05 on AUC and ECE, at half the scoring cost (tree traversal is
#: ~all of the 1 M-row scoring time).
DEFAULT_V2_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 75,
    "max_leaf_nodes": 6,
    "min_samples_leaf": 200,
    "l2_regularization": 2.0,
    # Off: sklearn's early stopping carves a random validation split out of the training rows, which is
    # neither time-aware nor needed with a fixed, regularised number of iterations.
    "early_stopping": False,
}

REGISTRY_COLUMNS = ["version", "model_hash", "trained_at", "train_start", "train_end", "features", "params"]


def _thread_limit(n_threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Cap OpenMP threads (the boosted trees) for the duration of a call.

    Why: dbt runs several Python models concurrently and Dagster may run several ops per box; OpenMP's
    default of one busy-waiting thread per core then oversubscribes the CPU and a 0.5 s fit can take 30 s.
    ``None`` keeps scikit-learn's default (all cores).
    """
    if n_threads is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n_threads, user_api="openmp")


class AllNullFeatureWarning(UserWarning):
    """A candidate feature was entirely NULL in the training window and was dropped (see ``on_all_null``)."""


def score_columns(n_reasons: int = 3, *, id_col: str = ID_COL, date_col: str = DATE_COL) -> list[str]:
    """Column order of :func:`score`'s output (stable, so the dbt model's schema never depends on flags)."""
    reasons = [f"reason_{i}" for i in range(1, n_reasons + 1)]
    return [id_col, date_col, "churn_probability", "risk_band", *reasons, "model_version", "model_hash"]


# --------------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns a model uses and how each is typed. Numeric (incl. bool) columns go in as numbers,
    everything else is treated as categorical and one-hot encoded."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    #: Candidate columns dropped because they were entirely NULL in the training window.
    dropped: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        """Select and normalise the feature columns: float64 with NaN for numerics (nullable ints, bools and
        decimals all arrive from the warehouse), plain-object strings with NULL as a category for the rest.
        One normalisation shared by training and scoring is what keeps the two from drifting apart."""
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise ValueError(f"frame lacks feature columns the model was trained on: {missing}")
        data: dict[str, Any] = {}
        for col in self.numeric:
            try:
                data[col] = df[col].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"feature {col!r} was numeric at training time but is not now") from exc
        for col in self.categorical:
            values = df[col].astype("string").fillna(MISSING_CATEGORY).to_numpy(dtype=object)
            data[col] = pd.Series(values, dtype=object, copy=False)
        return pd.DataFrame(data, index=pd.RangeIndex(len(df)))


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _is_temporal(series: pd.Series) -> bool:
    """datetime64/timedelta64 dtypes, or object columns holding ``datetime.date``-like values (what a
    warehouse DATE can arrive as)."""
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return True
    if series.dtype != object:
        return False
    first = series.dropna().head(1)
    return not first.empty and isinstance(first.iloc[0], dt.date | dt.time | dt.timedelta)


def discover_features(
    df: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    label_col: str = LABEL_COL,
    on_all_null: Literal["drop", "raise"] = "drop",
) -> tuple[FeatureSpec, list[str]]:
    """Work out the feature set from ``df`` (the training window); returns the spec and recorded notes.

    Without ``features``, every column except id, date, label, :data:`EVALUATION_ONLY_COLUMNS` and
    ``exclude`` is a feature, except that these are skipped with a note: date/time columns (raw dates do
    not generalise to the future) and string columns with more than :data:`MAX_DISCOVERED_LEVELS` distinct
    values (almost always identifiers such as emails; one-hot encoding them memorises users). Put other
    non-feature columns (e.g. ``account_id``) in ``exclude``. Explicit ``features`` may not name any
    reserved column: ``oracle_probability`` as a feature would be a leak, so it is an error, not a drop.

    **All-NULL features** (the documented fallback): with ``on_all_null="drop"`` (default) the column is
    dropped, an :class:`AllNullFeatureWarning` is emitted and the drop is recorded in the notes and in the
    model's registry params. Rationale: a newly added dbt column that is not populated yet should not take
    the weekly scoring down, and a column with no values carries no information anyway. Pass
    ``on_all_null="raise"`` to get a ``ValueError`` naming the column instead (e.g. in CI).
    """
    if on_all_null not in ("drop", "raise"):
        raise ValueError(f"on_all_null must be 'drop' or 'raise', got {on_all_null!r}")
    reserved = {id_col, date_col, label_col, *EVALUATION_ONLY_COLUMNS, *exclude}
    notes: list[str] = []
    if features is not None:
        candidates = list(features)
        missing = [c for c in candidates if c not in df.columns]
        if missing:
            raise ValueError(f"requested feature columns not in the frame: {missing}")
        forbidden = [c for c in candidates if c in reserved]
        if forbidden:
            raise ValueError(f"{forbidden} are identifier, label or evaluation-only columns and can never be features")
        dated = [c for c in candidates if _is_temporal(df[c])]
        if dated:
            raise ValueError(f"datetime columns cannot be features (derive e.g. a day count in dbt): {dated}")
    else:
        candidates = []
        for col in df.columns:
            if col in reserved:
                continue
            if _is_temporal(df[col]):
                notes.append(f"skipped date/time column {col!r} (not a usable feature)")
                continue
            if not _is_numeric(df[col]) and df[col].nunique() > MAX_DISCOVERED_LEVELS:
                notes.append(f"skipped string column {col!r}: more than {MAX_DISCOVERED_LEVELS} distinct values")
                continue
            candidates.append(col)

    usable, dropped = [], []
    for col in candidates:
        if df[col].isna().all():
            if on_all_null == "raise":
                raise ValueError(f"feature column {col!r} is entirely NULL in the training window")
            message = f"feature column {col!r} is entirely NULL in the training window; dropped"
            warnings.warn(message, AllNullFeatureWarning, stacklevel=3)
            notes.append(message)
            dropped.append(col)
            continue
        usable.append(col)
    if not usable:
        raise ValueError("no usable feature columns left after excluding ids, labels and all-NULL columns")
    numeric = tuple(c for c in usable if _is_numeric(df[c]))
    categorical = tuple(c for c in usable if c not in numeric)
    return FeatureSpec(numeric=numeric, categorical=categorical, dropped=tuple(dropped)), notes


# --------------------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------------------


def _sort_panel(df: pd.DataFrame, date_col: str, id_col: str) -> pd.DataFrame:
    keys = [date_col, id_col] if id_col in df.columns else [date_col]
    return df.sort_values(keys, kind="mergesort")


def time_split(
    df: pd.DataFrame,
    date_col: str = DATE_COL,
    label_col: str = LABEL_COL,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    *,
    gap_days: int = 0,
    id_col: str = ID_COL,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split labelled rows into ``(train, calibrate, test)`` by distinct snapshot date, oldest first.

    Never random: the same user appears in every weekly snapshot, so a random split would put near-copies of
    a test row in training and overstate accuracy; and production always predicts a future week. The
    distinct labelled dates are cut at the cumulative ``fractions`` (rounded half-up, each window getting at
    least one date), so no date ever spans two windows. Rows with a NULL label are dropped first.

    ``gap_days`` (default 0) purges the *end* of the train and calibrate windows: a date ``d`` is kept only
    if ``d + gap_days`` is not after the first date of the next window. With ``gap_days=30`` every label used
    to fit a window was already observable when the next window starts, exactly as in production, so
    backtests are not flattered by outcomes that overlap the evaluation period (needs ~5 more weekly dates
    per boundary).

    Each window is returned sorted by ``(date, id)`` so downstream fitting is order-independent.
    Raises :class:`EmptySnapshotError` with no labelled rows, ``ValueError`` with fewer than 3 distinct
    labelled dates, a non-binary label or invalid fractions.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    for col in (date_col, label_col):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in the frame")
    labelled = df[df[label_col].notna()]
    if labelled.empty:
        raise EmptySnapshotError(
            f"no labelled rows: every {label_col!r} is NULL (is the 30-day horizon observable for any snapshot yet?)"
        )
    as_binary_labels(labelled[label_col], label_col)
    dates = pd.to_datetime(labelled[date_col])
    if dates.isna().any():
        raise ValueError(f"{date_col!r} has NULLs on labelled rows")
    distinct = np.sort(dates.unique())
    n = len(distinct)
    if n < 3:
        raise ValueError(f"time_split needs at least 3 distinct labelled snapshot dates (one per window), got {n}")
    cut1 = min(max(1, math.floor(n * fractions[0] + 0.5)), n - 2)
    cut2 = min(max(cut1 + 1, math.floor(n * (fractions[0] + fractions[1]) + 0.5)), n - 1)
    windows = [distinct[:cut1], distinct[cut1:cut2], distinct[cut2:]]
    if gap_days:
        gap = np.timedelta64(int(gap_days), "D")
        windows[0] = windows[0][windows[0] + gap <= windows[1][0]]
        windows[1] = windows[1][windows[1] + gap <= windows[2][0]]
        if len(windows[0]) == 0 or len(windows[1]) == 0:
            raise ValueError(f"gap_days={gap_days} leaves an empty train or calibrate window; need more dates")
    ordered = _sort_panel(labelled, date_col, id_col)
    ordered_dates = pd.to_datetime(ordered[date_col])
    train, calibrate, test = (ordered[ordered_dates.isin(w).to_numpy()] for w in windows)
    return train, calibrate, test


def latest_snapshot(df: pd.DataFrame, date_col: str = DATE_COL) -> pd.DataFrame:
    """Rows of the most recent snapshot (what the prediction models score each run).

    Raises :class:`EmptySnapshotError` when there is no snapshot at all, so an empty upstream table fails
    loudly instead of silently writing an empty prediction table.
    """
    if df.empty or df[date_col].isna().all():
        raise EmptySnapshotError(f"no snapshot to score: the frame is empty or {date_col!r} is all NULL")
    dates = pd.to_datetime(df[date_col])
    return df[(dates == dates.max()).to_numpy()]


# --------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------


def _encoder(spec: FeatureSpec, *, impute: bool) -> ColumnTransformer:
    """Shared encoding. v1 needs finite inputs: median imputation plus missing-indicator columns, so
    "never had a session" keeps its own coefficient. v2 passes NaN through to the trees' native handling."""
    steps: list[tuple[str, Any, list[str]]] = []
    if spec.numeric:
        numeric = SimpleImputer(strategy="median", add_indicator=True) if impute else "passthrough"
        steps.append(("num", numeric, list(spec.numeric)))
    if spec.categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps.append(("cat", onehot, list(spec.categorical)))
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)


def _column_groups(spec: FeatureSpec, encoder: ColumnTransformer, n_out: int) -> tuple[np.ndarray, ...]:
    """Map every encoded column back to the feature it came from (value, missing indicator, one-hot
    levels), so contributions are reported per business feature, not per dummy column."""
    index: dict[str, list[int]] = {f: [] for f in spec.features}
    pos = 0
    for col in spec.numeric:
        index[col].append(pos)
        pos += 1
    if spec.numeric:
        numeric = encoder.named_transformers_["num"]
        indicator = getattr(numeric, "indicator_", None)
        if indicator is not None:
            for i in indicator.features_:
                index[spec.numeric[i]].append(pos)
                pos += 1
    if spec.categorical:
        for col, levels in zip(spec.categorical, encoder.named_transformers_["cat"].categories_, strict=True):
            index[col].extend(range(pos, pos + len(levels)))
            pos += len(levels)
    if pos != n_out:  # pragma: no cover - guards against a change in sklearn's output layout
        raise RuntimeError(f"encoded layout mismatch: mapped {pos} columns, encoder produced {n_out}")
    return tuple(np.asarray(index[f], dtype=np.intp) for f in spec.features)


@dataclass(frozen=True)
class _TreePlan:
    baseline: float
    trees: list[np.ndarray]  # per feature: indices of the boosting iterations whose tree splits on it
    submodels: list[Any]  # per feature: the model restricted to those trees (None if there are none)


def _trees_by_feature(estimator: Any, groups: Sequence[np.ndarray]) -> _TreePlan | None:
    """Per feature, the boosting model restricted to the trees that split on it.

    Why: replacing feature j can only change trees that split on j; every other tree contributes the same
    value to f(x) and to f(x with j replaced), so it cancels in the difference. Evaluating just those trees
    gives *identical* contributions for a fraction of the work (6-leaf trees touch 2-3 features each).
    This reads scikit-learn's private ``_predictors`` / ``nodes`` / ``_baseline_prediction``; if they ever
    change shape we return None and the caller uses the full model (same numbers, slower) instead of failing.
    """
    try:
        iterations = list(estimator._predictors)
        baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        used = []
        for trees in iterations:
            (tree,) = trees  # binary classification: one tree per boosting iteration
            nodes = tree.nodes
            used.append(set(np.unique(nodes["feature_idx"][nodes["is_leaf"] == 0]).tolist()))
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        return None
    tree_index: list[np.ndarray] = []
    submodels: list[Any] = []
    for cols in groups:
        wanted = set(cols.tolist())
        keep = np.asarray([i for i, features in enumerate(used) if features & wanted], dtype=np.intp)
        tree_index.append(keep)
        if keep.size == 0:
            submodels.append(None)
            continue
        sub = copy.copy(estimator)
        sub._predictors = [iterations[i] for i in keep]
        submodels.append(sub)
    return _TreePlan(baseline=baseline, trees=tree_index, submodels=submodels)


def _mode(values: pd.Series) -> str:
    counts = values.value_counts()
    best = counts.max()
    return sorted(str(v) for v, c in counts.items() if c == best)[0]  # deterministic tie-break


def _fmt(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "missing"
    if value.is_integer() and abs(value) < 1e15:
        return str(round(value))
    magnitude = abs(value)
    return f"{value:.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


def _display_round(values: np.ndarray) -> np.ndarray:
    """Round to the precision :func:`_fmt` shows, so reason strings are built once per displayed value."""
    magnitude = np.abs(values)
    return np.where(
        magnitude >= 100,
        np.round(values),
        np.where(magnitude >= 10, np.round(values, 1), np.round(values, 2)),
    )


@dataclass
class ChurnModel:
    """A fitted churn model version plus everything needed to score, explain and audit it.

    ``estimator`` produces the log-odds used for explanations (v1: the logistic regression, v2: the raw
    boosted trees); ``calibrator`` (v2 only) maps them to calibrated probabilities. ``reference`` holds the
    value each feature is compared against in reasons: the training mean (v1, matching the exact linear
    decomposition) or median/mode (v2, the replacement value).
    """

    version: str
    spec: FeatureSpec
    preprocessor: Any
    estimator: Any
    calibrator: CalibratedClassifierCV | None
    groups: tuple[np.ndarray, ...]
    reference: dict[str, Any]
    reference_encoded: np.ndarray
    band_thresholds: dict[str, float]
    params: dict[str, Any]
    model_hash: str
    trained_at: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return self.spec.features

    @property
    def reference_label(self) -> str:
        return "avg" if self.version == "v1" else "typical"

    # -- probabilities -------------------------------------------------------------------------------
    def encode(self, df: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.preprocessor.transform(self.spec.prepare(df)), dtype=np.float64)

    def _proba_encoded(self, encoded: np.ndarray) -> np.ndarray:
        model = self.calibrator if self.calibrator is not None else self.estimator
        return model.predict_proba(encoded)[:, 1]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row of ``df`` (which needs the model's feature columns)."""
        return self._proba_encoded(self.encode(df))

    # -- explanations --------------------------------------------------------------------------------
    def _contributions_encoded(self, prepared: pd.DataFrame, encoded: np.ndarray) -> np.ndarray:
        n, k = len(prepared), len(self.groups)
        if self.version == "v1":
            # Exact: log-odds = intercept + sum_j coef_j * z_j with z standardised (training mean -> 0), so
            # coef_j * z_j is feature j's push relative to the average training user; dummy and
            # missing-indicator columns are summed back into their feature.
            membership = np.zeros((encoded.shape[1], k))
            for j, cols in enumerate(self.groups):
                membership[cols, j] = 1.0
            return (encoded * self.estimator.coef_[0]) @ membership
        # v2: model-agnostic "replace with typical" attribution on the raw (pre-calibration) log-odds:
        # contribution_j = f(x) - f(x with feature j set to its training median/mode). Calibration is
        # monotone, so the sign (pushes risk up/down) carries over. Chunked to bound memory at 1 M+ rows.
        out = np.zeros((n, k))
        plan = _trees_by_feature(self.estimator, self.groups)
        for lo in range(0, n, CONTRIBUTION_CHUNK_ROWS):
            hi = min(lo + CONTRIBUTION_CHUNK_ROWS, n)
            out[lo:hi] = self._replacement_contributions(prepared.iloc[lo:hi], encoded[lo:hi], plan)
        return out

    def _replacement_contributions(
        self, prepared: pd.DataFrame, encoded: np.ndarray, plan: _TreePlan | None
    ) -> np.ndarray:
        out = np.zeros((len(prepared), len(self.groups)))
        if plan is None:  # generic path: full model before and after
            before_all = self.estimator.decision_function(encoded)
        else:  # per-tree outputs once (public staged API), so f_j(x) below is a sum, not a re-evaluation
            staged = np.vstack(list(self.estimator.staged_decision_function(encoded)))  # (trees, rows)
            per_tree = np.diff(staged, axis=0, prepend=np.full((1, staged.shape[1]), plan.baseline))
        for j, (feature, cols) in enumerate(zip(self.features, self.groups, strict=True)):
            if plan is not None and plan.submodels[j] is None:
                continue  # no tree splits on this feature: it cannot move the prediction
            # Rows already at the typical value have contribution 0 by definition (NaN != x, so missing
            # values are re-scored); skipping them roughly halves the work on binary features.
            rows = np.flatnonzero(prepared[feature].to_numpy() != self.reference[feature])
            if rows.size == 0:
                continue
            swapped = encoded[rows]
            swapped[:, cols] = self.reference_encoded[cols]
            if plan is None:
                out[rows, j] = before_all[rows] - self.estimator.decision_function(swapped)
            else:
                before = plan.baseline + per_tree[plan.trees[j]].sum(axis=0)[rows]
                out[rows, j] = before - plan.submodels[j].decision_function(swapped)
        return out

    def contributions(self, df: pd.DataFrame) -> pd.DataFrame:
        """Per-row, per-feature log-odds contributions (positive = pushes churn risk up)."""
        prepared = self.spec.prepare(df)
        encoded = np.asarray(self.preprocessor.transform(prepared), dtype=np.float64)
        return pd.DataFrame(self._contributions_encoded(prepared, encoded), columns=self.features, index=df.index)

    def _describe(self, feature: str, values: np.ndarray) -> np.ndarray:
        ref = self.reference[feature]
        label = self.reference_label
        if feature in self.spec.categorical:
            uniq, inverse = np.unique(values.astype(str), return_inverse=True)
            shown = {MISSING_CATEGORY: "missing"}
            texts = [
                f"{feature} = {shown.get(v, v)}" + ("" if v == ref else f" ({label} {shown.get(ref, ref)})")
                for v in uniq
            ]
        else:
            uniq, inverse = np.unique(_display_round(values.astype(np.float64)), return_inverse=True)
            ref_shown = _fmt(float(ref))
            texts = []
            for v in uniq:
                if math.isnan(v):
                    texts.append(f"{feature} missing ({label} {ref_shown})")
                elif _fmt(v) == ref_shown:
                    texts.append(f"{feature} = {ref_shown}")
                else:
                    direction = "high" if v > ref else "low"
                    texts.append(f"{feature} {direction} ({_fmt(v)} vs {label} {ref_shown})")
        return np.asarray(texts, dtype=object)[inverse.reshape(-1)]

    def _reasons(self, prepared: pd.DataFrame, contributions: np.ndarray, n_reasons: int) -> list[np.ndarray]:
        n, k = contributions.shape
        masked = np.where(contributions > REASON_MIN_LOGODDS, contributions, -np.inf)
        depth = min(n_reasons, k)
        top = np.argsort(-masked, axis=1, kind="stable")[:, :depth]
        columns = []
        for r in range(n_reasons):
            column = np.full(n, None, dtype=object)
            if r < depth:
                idx = top[:, r]
                valid = np.isfinite(np.take_along_axis(masked, idx[:, None], axis=1)[:, 0])
                for j, feature in enumerate(self.features):
                    rows = np.flatnonzero(valid & (idx == j))
                    if rows.size:
                        column[rows] = self._describe(feature, prepared[feature].to_numpy()[rows])
            columns.append(column)
        return columns

    # -- registry ------------------------------------------------------------------------------------
    def registry_row(self, *, include_blob: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {
            "version": self.version,
            "model_hash": self.model_hash,
            "trained_at": self.trained_at,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "features": json.dumps(self.features),
            "params": json.dumps(self.params, sort_keys=True, default=str),
        }
        if include_blob:
            row["model_blob"] = dump_model(self)
        return row


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
        """Rows for ``ml_model_registry``: :data:`REGISTRY_COLUMNS` (+ ``model_blob`` bytes if asked)."""
        rows = [m.registry_row(include_blob=include_blob) for m in self.models.values()]
        columns = REGISTRY_COLUMNS + (["model_blob"] if include_blob else [])
        return pd.DataFrame(rows, columns=columns)

    def score_test(self) -> pd.DataFrame:
        """The held-out test window with ``p_v1``, ``p_v2`` (and ``p_baseline``) appended."""
        out = self.test.copy()
        for name, model in self.models.items():
            out[f"p_{name}"] = model.predict_proba(self.test)
        if self.baseline is not None:
            out["p_baseline"] = self.baseline.predict(self.test)
        return out

    def evaluate_test(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`evaluate` on the test window for v1, v2, baseline and (if present) the oracle."""
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


def _model_hash(version: str, features: list[str], params: dict[str, Any], data_fingerprint: str) -> str:
    payload = {"version": version, "features": features, "params": params, "data": data_fingerprint}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _band_thresholds(calibrate_probabilities: np.ndarray) -> dict[str, float]:
    return {band: float(np.quantile(calibrate_probabilities, q)) for band, q in RISK_BAND_QUANTILES.items()}


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
    on_all_null: Literal["drop", "raise"] = "drop",
    v1_params: Mapping[str, Any] | None = None,
    v2_params: Mapping[str, Any] | None = None,
    baseline_feature: str = "days_since_last_active",
    trained_at: pd.Timestamp | str | None = None,
    n_threads: int | None = None,
) -> TrainedModels:
    """Train v1 and v2 (and the recency baseline) on a :func:`time_split` of ``df``.

    * v1 fits on *train*; v2's trees fit on *train* and its calibrator (isotonic with at least
      :data:`ISOTONIC_MIN_POSITIVES` churners and non-churners and :data:`ISOTONIC_MIN_ROWS` rows in the
      window, else sigmoid) on *calibrate* via ``CalibratedClassifierCV(FrozenEstimator(trees))``.
      Both versions derive their risk-band cut-offs from the calibrate window; *test* is never touched.
    * Deterministic: windows are sorted, lbfgs and the trees are seeded (``random_state=seed``), early
      stopping is off. Same data + seed -> identical probabilities and identical ``model_hash``.
    * ``model_hash`` = sha256 of version + feature list + params (incl. sklearn version and seed) + a content
      fingerprint of the train and calibrate windows. ``trained_at`` (UTC, naive) is deliberately not part of
      it, so retraining on unchanged data is recognisably the same model.
    * ``v1_params`` / ``v2_params`` override :data:`DEFAULT_V1_PARAMS` / :data:`DEFAULT_V2_PARAMS`.
    * ``n_threads`` caps OpenMP threads while fitting (see :func:`_thread_limit`); results do not depend on it.

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

    x_train, x_cal = spec.prepare(train), spec.prepare(calibrate)
    fit_cols = [id_col, date_col, label_col, *spec.features]
    fingerprint = _fingerprint(pd.concat([train[fit_cols], calibrate[fit_cols]], ignore_index=True))
    train_dates, cal_dates = pd.to_datetime(train[date_col]), pd.to_datetime(calibrate[date_col])
    stamp = pd.Timestamp(trained_at) if trained_at is not None else pd.Timestamp.now(tz="UTC")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    common: dict[str, Any] = {
        "seed": seed,
        "sklearn_version": sklearn.__version__,
        "categorical_features": list(spec.categorical),
        "dropped_features": list(spec.dropped),
        "n_train": len(train),
        "n_calibrate": len(calibrate),
        "train_positive_rate": round(float(y_train.mean()), 6),
        "calibrate_window": [str(cal_dates.min().date()), str(cal_dates.max().date())],
        "gap_days": gap_days,
    }

    def finish(version: str, parts: dict[str, Any]) -> ChurnModel:
        params = {**common, **parts["params"]}
        params["risk_band_thresholds"] = _band_thresholds(parts["model_proba_cal"])
        return ChurnModel(
            version=version,
            spec=spec,
            preprocessor=parts["preprocessor"],
            estimator=parts["estimator"],
            calibrator=parts.get("calibrator"),
            groups=parts["groups"],
            reference=parts["reference"],
            reference_encoded=parts["reference_encoded"],
            band_thresholds=params["risk_band_thresholds"],
            params=params,
            model_hash=_model_hash(version, spec.features, params, fingerprint),
            trained_at=stamp.floor("s"),
            train_start=train_dates.min(),
            train_end=train_dates.max(),
            warnings=list(notes),
        )

    with _thread_limit(n_threads):
        v1 = finish("v1", _fit_v1(spec, x_train, y_train, x_cal, seed, v1_params))
        v2 = finish("v2", _fit_v2(spec, x_train, y_train, x_cal, y_cal, seed, v2_params))

    baseline = None
    if baseline_feature in train.columns and train[baseline_feature].notna().any():
        baseline = fit_baseline(train, feature=baseline_feature, label_col=label_col)
    else:
        notes.append(f"baseline feature {baseline_feature!r} unavailable; no baseline fitted")
    return TrainedModels(v1, v2, baseline, train, calibrate, test, notes, label_col)


def _reference_frame(spec: FeatureSpec, reference: Mapping[str, Any]) -> pd.DataFrame:
    data: dict[str, Any] = {c: [float(reference[c])] for c in spec.numeric}
    data.update({c: pd.Series([reference[c]], dtype=object) for c in spec.categorical})
    return pd.DataFrame(data)


def _fit_v1(
    spec: FeatureSpec,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_cal: pd.DataFrame,
    seed: int,
    overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    # No class_weight: re-weighting would inflate every probability by the weight ratio.
    lr_params = {**DEFAULT_V1_PARAMS, **(overrides or {}), "random_state": seed}
    encoder = _encoder(spec, impute=True)
    pipeline = Pipeline([("encode", encoder), ("scale", StandardScaler())])
    encoded = pipeline.fit_transform(x_train)
    model = LogisticRegression(**lr_params).fit(encoded, y_train)
    scaler: StandardScaler = pipeline.named_steps["scale"]
    groups = _column_groups(spec, encoder, encoded.shape[1])
    # Reference = what the exact decomposition compares against: the (post-imputation) training mean.
    reference: dict[str, Any] = {c: float(scaler.mean_[groups[i][0]]) for i, c in enumerate(spec.numeric)}
    reference.update({c: _mode(x_train[c]) for c in spec.categorical})
    return {
        "preprocessor": pipeline,
        "estimator": model,
        "groups": groups,
        "reference": reference,
        "reference_encoded": np.asarray(pipeline.transform(_reference_frame(spec, reference)))[0],
        "model_proba_cal": model.predict_proba(pipeline.transform(x_cal))[:, 1],
        "params": {
            "estimator": "LogisticRegression",
            "preprocessing": "median impute + missing indicators, one-hot, standardise",
            "calibration": "none (unweighted logistic loss)",
            **{k: v for k, v in lr_params.items() if k != "random_state"},
        },
    }


def _fit_v2(
    spec: FeatureSpec,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_cal: pd.DataFrame,
    y_cal: np.ndarray,
    seed: int,
    overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    gb_params = {**DEFAULT_V2_PARAMS, **(overrides or {}), "random_state": seed}
    encoder = _encoder(spec, impute=False)
    encoded = np.asarray(encoder.fit_transform(x_train), dtype=np.float64)
    trees = HistGradientBoostingClassifier(**gb_params).fit(encoded, y_train)
    positives, negatives = int(y_cal.sum()), int(len(y_cal) - y_cal.sum())
    enough = min(positives, negatives) >= ISOTONIC_MIN_POSITIVES and len(y_cal) >= ISOTONIC_MIN_ROWS
    method = "isotonic" if enough else "sigmoid"
    encoded_cal = np.asarray(encoder.transform(x_cal), dtype=np.float64)
    calibrator = CalibratedClassifierCV(FrozenEstimator(trees), method=method).fit(encoded_cal, y_cal)
    reference: dict[str, Any] = {c: float(np.nanmedian(x_train[c].to_numpy())) for c in spec.numeric}
    reference.update({c: _mode(x_train[c]) for c in spec.categorical})
    return {
        "preprocessor": encoder,
        "estimator": trees,
        "calibrator": calibrator,
        "groups": _column_groups(spec, encoder, encoded.shape[1]),
        "reference": reference,
        "reference_encoded": np.asarray(encoder.transform(_reference_frame(spec, reference)))[0],
        "model_proba_cal": calibrator.predict_proba(encoded_cal)[:, 1],
        "params": {
            "estimator": "HistGradientBoostingClassifier",
            "preprocessing": "one-hot categoricals, NaN passed to trees",
            "calibration": method,
            "calibration_positives": positives,
            **{k: v for k, v in gb_params.items() if k != "random_state"},
        },
    }


# --------------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------------


def score(
    model: ChurnModel,
    df: pd.DataFrame,
    *,
    reasons: bool = True,
    n_reasons: int = 3,
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    band_thresholds: Mapping[str, float] | None = None,
    reason_bands: Sequence[str] | None = None,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Score every row of ``df``; columns are :func:`score_columns` (same order whatever the flags).

    * ``churn_probability``: calibrated probability of churning within 30 days of the snapshot.
    * ``risk_band``: ``"high"`` if probability >= ``band_thresholds["high"]``, ``"medium"`` if >=
      ``["medium"]``, else ``"low"``. Defaults are the model's frozen cut-offs
      (:data:`RISK_BAND_QUANTILES`: 90th / 70th percentile of calibrate-window probabilities).
    * ``reason_1..reason_n``: the features pushing *this* user's risk up the most, strongest first, as text
      like ``"days_since_last_active high (21 vs typical 3)"``; None when fewer features push risk up (by
      more than :data:`REASON_MIN_LOGODDS`) or when ``reasons=False``. v1 compares with the training average
      ("avg"), v2 with the training median/mode ("typical"); see :meth:`ChurnModel.contributions`.
    * ``model_version``, ``model_hash``: provenance of every prediction.

    ``reasons=False`` is the fast path (probabilities only). ``reason_bands=("high", "medium")`` explains only
    those bands (the users someone will actually contact), cutting v2 reason time proportionally; other rows
    get None reasons. ``n_threads`` caps OpenMP threads.

    Raises :class:`EmptySnapshotError` on an empty frame and ``ValueError`` when required columns are missing.
    """
    if df.empty:
        raise EmptySnapshotError("no rows to score: the snapshot has no users")
    missing = [c for c in (id_col, date_col) if c not in df.columns]
    if missing:
        raise ValueError(f"scoring frame lacks columns {missing}")
    thresholds = dict(band_thresholds) if band_thresholds is not None else model.band_thresholds
    with _thread_limit(n_threads):
        prepared = model.spec.prepare(df)
        encoded = np.asarray(model.preprocessor.transform(prepared), dtype=np.float64)
        probability = model._proba_encoded(encoded)
        band = np.where(
            probability >= thresholds["high"], "high", np.where(probability >= thresholds["medium"], "medium", "low")
        ).astype(object)
        texts = [np.full(len(df), None, dtype=object) for _ in range(n_reasons)]
        if reasons:
            rows = np.arange(len(df)) if reason_bands is None else np.flatnonzero(np.isin(band, list(reason_bands)))
            if rows.size:
                subset = prepared.iloc[rows].reset_index(drop=True)
                explained = model._reasons(subset, model._contributions_encoded(subset, encoded[rows]), n_reasons)
                for column, values in zip(texts, explained, strict=True):
                    column[rows] = values

    out = pd.DataFrame(
        {
            id_col: df[id_col].to_numpy(),
            date_col: df[date_col].to_numpy(),
            "churn_probability": probability,
            "risk_band": band,
        }
    )
    for i, column in enumerate(texts, start=1):
        out[f"reason_{i}"] = pd.Series(column, dtype=object)
    out["model_version"] = model.version
    out["model_hash"] = model.model_hash
    return out[score_columns(n_reasons, id_col=id_col, date_col=date_col)]


# --------------------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------------------


def dump_model(model: ChurnModel) -> bytes:
    """Serialise a model to bytes (joblib, compressed): storable in a BLOB column or a file.

    Pickle-based: load only blobs your own pipeline wrote, with the same scikit-learn version
    (``params["sklearn_version"]``).
    """
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load_model(blob: bytes | bytearray | memoryview) -> ChurnModel:
    """Inverse of :func:`dump_model`; warns when the scikit-learn version differs from training time."""
    model = joblib.load(io.BytesIO(bytes(blob)))
    if not isinstance(model, ChurnModel):
        raise TypeError(f"blob holds a {type(model).__name__}, not a ChurnModel")
    trained_with = model.params.get("sklearn_version")
    if trained_with != sklearn.__version__:
        warnings.warn(
            f"model {model.version}/{model.model_hash[:12]} was trained with scikit-learn {trained_with}, "
            f"loading under {sklearn.__version__}; retrain if predictions look off",
            UserWarning,
            stacklevel=2,
        )
    return model


def load_model_from_registry(registry: pd.DataFrame, version: str, model_hash: str | None = None) -> ChurnModel:
    """Load ``version`` (optionally an exact ``model_hash``) from registry rows that include ``model_blob``
    (``TrainedModels.registry_rows(include_blob=True)``); the most recent ``trained_at`` wins."""
    if "model_blob" not in registry.columns:
        raise ValueError("registry has no model_blob column; write it with registry_rows(include_blob=True)")
    rows = registry[registry["version"] == version]
    if model_hash is not None:
        rows = rows[rows["model_hash"] == model_hash]
    if rows.empty:
        raise LookupError(f"no registered model for version={version!r} model_hash={model_hash!r}")
    latest = rows.sort_values("trained_at", kind="mergesort").iloc[-1]
    return load_model(latest["model_blob"])


# --------------------------------------------------------------------------------------------------------
# Synthetic data (tests, benchmarks, demos)
# --------------------------------------------------------------------------------------------------------

PLANS = ("free", "starter", "pro", "enterprise")


def make_synthetic_panel(
    n_users: int = 3_000,
    n_snapshots: int = 12,
    *,
    seed: int = 0,
    start: str = "2024-01-01",
    censor_recent_labels: bool = False,
) -> pd.DataFrame:
    """A ``fct_user_features``-shaped panel with a *known* churn mechanism, for tests, benchmarks and demos.

    Users have a latent weekly engagement (AR(1) around a personal level, with a declining subset); daily
    activity, events, sessions, tickets and key-feature adoption are drawn from it, and features are
    computed only from days before each weekly snapshot. The weekly churn hazard is non-linear on purpose
    (recency cliffs at 8 and 15 days, a ticket threshold, plan x key-feature interaction, a U-shaped usage
    trend effect, a new-user bump), so boosted trees have something to find that a linear model cannot.

    ``oracle_probability`` is the exact probability of churning in the 30 days after the snapshot *given the
    simulated future hazard path*: an upper bound no real model can reach, useful as a ceiling in
    :func:`evaluate`. ``churn_date`` is the simulated churn day (NaT if the user survives the simulation).
    Users disappear from snapshots after churning. With ``censor_recent_labels`` the last snapshots' labels
    are NULL, as in the warehouse where their 30-day horizon is not over yet.
    """
    rng = np.random.default_rng(seed)
    warm, horizon = 4, 4  # weeks of history before the first snapshot / extra weeks to observe labels
    n_points = n_snapshots + horizon
    n_weeks = warm + n_points
    n = n_users

    plan = rng.choice(np.array(PLANS, dtype=object), size=n, p=[0.45, 0.30, 0.18, 0.07])
    tier = np.select([plan == p for p in PLANS], [0, 1, 2, 3])
    seats = np.select(
        [tier == 0, tier == 1, tier == 2],
        [np.ones(n), rng.integers(1, 6, n), rng.integers(3, 31, n)],
        np.round(rng.lognormal(4.0, 0.7, n)),
    ).astype(np.int64)
    level = rng.normal(0.0, 1.0, n) + 0.15 * tier
    frustrated = rng.random(n) < 0.15
    tenure0 = np.where(rng.random(n) < 0.15, rng.integers(1, 30, n), rng.integers(30, 1_200, n))
    adopt_week = np.where(rng.random(n) < expit(level), rng.integers(-20, n_weeks, n), 10**6)
    decliner = rng.random(n) < 0.3
    decline_start = rng.integers(0, n_weeks, n)
    slope = rng.uniform(0.2, 0.6, n)

    engagement = np.empty((n, n_weeks))
    deviation = rng.normal(0.0, 0.5, n)
    for w in range(n_weeks):
        deviation = 0.75 * deviation + rng.normal(0.0, 0.4, n)
        engagement[:, w] = level + deviation - decliner * slope * np.maximum(0, w - decline_start)
    active = rng.random((n, n_weeks, 7)) < expit(engagement + 0.3)[:, :, None]
    active_w = active.sum(axis=2)
    events_w = rng.poisson(active_w * np.exp(1.0 + 0.4 * engagement))
    sessions_w = active_w + rng.poisson(0.6 * active_w)
    tickets_w = rng.poisson(0.06 + 0.5 * frustrated[:, None] + 0.1 * (engagement < -1.0))
    day = np.arange(n_weeks * 7)
    last_active = np.maximum.accumulate(np.where(active.reshape(n, -1), day, -1), axis=1)

    plan_effect = np.select([tier == 0, tier == 1, tier == 2], [0.7, 0.3, 0.0], -0.6)
    feats: list[dict[str, np.ndarray]] = []
    hazard = np.empty((n, n_points))
    for k in range(n_points):
        d = 7 * (warm + k)
        window = slice(warm + k - 4, warm + k)
        last = last_active[:, d - 1]
        recency = np.where(last >= 0, d - last, np.nan).astype(np.float64)
        a28 = active_w[:, window].sum(axis=1)
        e7, e28 = events_w[:, warm + k - 1], events_w[:, window].sum(axis=1)
        s28 = sessions_w[:, window].sum(axis=1)
        mean_eng = engagement[:, window].mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            trend = np.where(e28 > 0, e7 / (e28 / 4.0), np.nan)
        minutes = np.where(s28 > 0, np.exp(2.3 + 0.35 * mean_eng + rng.normal(0.0, 0.25, n)), np.nan)
        key = (adopt_week < warm + k).astype(np.int64)
        tickets = tickets_w[:, window].sum(axis=1)
        tenure = tenure0 + 7 * k
        rec = np.nan_to_num(recency, nan=60.0)
        flow = np.nan_to_num(trend, nan=0.0)
        logit = (
            -4.7
            + 2.0 * (rec >= 8)
            + 1.0 * (rec >= 15)
            - 0.03 * a28
            + plan_effect
            + 1.6 * (tickets >= 3)
            - 1.6 * key * (tier > 0)  # adoption protects paying teams only
            + 0.6 * key * (tier == 0)
            + 0.8 * (flow < 0.5)  # falling usage ...
            + 1.6 * (flow > 1.8)  # ... or a last burst (data export) before leaving: U-shaped
            + 1.2 * (tenure < 45)
        )
        hazard[:, k] = expit(logit)
        feats.append(
            {
                "days_since_last_active": recency,
                "active_days_7d": active_w[:, warm + k - 1],
                "active_days_28d": a28,
                "events_7d": e7,
                "events_28d": e28,
                "trend_7d_vs_28d": np.round(trend, 4),
                "sessions_28d": s28,
                "avg_session_minutes_28d": np.round(minutes, 2),
                "feature_breadth_28d": np.where(a28 > 0, rng.binomial(12, expit(mean_eng - 0.3)), 0),
                "key_feature_adopted": key,
                "tickets_28d": tickets,
                "plan": plan,
                "tenure_days": tenure,
                "seats": seats,
            }
        )

    never = np.iinfo(np.int64).max
    churn_day = np.full(n, never, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    for k in range(n_points):
        hit = alive & (rng.random(n) < hazard[:, k])
        churn_day[hit] = 7 * (warm + k) + rng.integers(1, 8, int(hit.sum()))
        alive &= ~hit

    origin = pd.Timestamp(start) - pd.Timedelta(days=7 * warm)
    churned = churn_day != never
    churn_date = origin + pd.to_timedelta(np.where(churned, churn_day, np.nan), unit="D")
    last_observable = 7 * (warm + n_snapshots - 1)
    frames = []
    for k in range(n_snapshots):
        d = 7 * (warm + k)
        present = churn_day > d
        survive = np.prod(1.0 - hazard[:, k : k + 4], axis=1) * (1.0 - hazard[:, k + 4] * 2.0 / 7.0)
        label = pd.array((churn_day <= d + 30).astype(np.int64), dtype="Int64")
        if censor_recent_labels and d + 30 > last_observable:
            label[:] = pd.NA
        frame = pd.DataFrame(
            {"user_id": np.arange(1, n + 1, dtype=np.int64), "snapshot_date": origin + pd.Timedelta(days=d)}
        )
        for name, values in feats[k].items():
            frame[name] = values
        frame["churned_30d"] = label
        frame["oracle_probability"] = 1.0 - survive
        frame["churn_date"] = churn_date
        frames.append(frame[present])
    panel = pd.concat(frames, ignore_index=True)
    panel["plan"] = panel["plan"].astype("str")
    return panel
