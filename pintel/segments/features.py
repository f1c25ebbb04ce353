"""Features -> the matrix the clustering sees: drop uninformative columns, log1p skewed counts, impute, standardise.

Why each step (see :mod:`pintel.segments` for the whole pipeline):

* constant or all-missing columns carry no information and would only add noise dimensions;
* non-negative columns with sample skewness > 1 (session counts, events, revenue) get ``log1p``: without it
  KMeans spends its clusters splitting the long tail of power users instead of finding behaviours;
* missing values are imputed with the median (robust to the heavy tails of activity counts);
* every column is standardised so that no feature dominates by its unit.

A previous run's log1p choices can be forced (``forced_logs``) so that two runs live in one space and their
centroids can be compared (:mod:`pintel.segments.ids`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from pintel.status import InsufficientData

__all__ = ["Prepared", "forced_logs", "prepare", "validate"]

_SKEW_FOR_LOG = 1.0


def validate(features: pd.DataFrame) -> pd.DataFrame:
    """The features as floats, or a ValueError naming what is wrong (KMeans' own errors would not)."""
    if not isinstance(features, pd.DataFrame):
        raise ValueError(f"features must be a pandas DataFrame, got {type(features).__name__}")
    if features.empty or features.shape[1] == 0:
        raise InsufficientData(
            f"features is empty ({features.shape[0]:,} users x {features.shape[1]} columns): need at least one of each"
        )
    if features.index.has_duplicates:
        raise ValueError("features index (user id) has duplicates")
    non_numeric = [
        c
        for c in features.columns
        if not (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))
    ]
    if non_numeric:
        raise ValueError(f"features must be numeric; non-numeric columns: {non_numeric}")
    frame = features.astype(float)
    if np.isinf(frame.to_numpy()).any():
        raise ValueError("features contain infinite values")
    return frame


def _informative_columns(frame: pd.DataFrame) -> list[str]:
    """Columns with at least two distinct observed values."""
    return [c for c in frame.columns if frame[c].nunique(dropna=True) > 1]


def _log_columns(frame: pd.DataFrame, forced: dict[str, bool]) -> list[str]:
    """Columns to log1p: forced by a previous run, else non-negative with skewness above the threshold."""
    chosen = []
    for col in frame.columns:
        if col in forced:
            use = forced[col] and bool((frame[col].dropna() >= 0).all())
        else:
            values = frame[col].dropna().to_numpy()
            use = bool(values.min() >= 0 and skew(values) > _SKEW_FOR_LOG)
        if use:
            chosen.append(col)
    return chosen


@dataclass(frozen=True)
class Prepared:
    """The clustering's input and what is needed to map other points (previous centroids) into its space."""

    columns: list[str]
    log_columns: list[str]
    transformed: pd.DataFrame  # log1p applied, NaNs imputed, not standardised
    matrix: np.ndarray  # standardised
    scaler: StandardScaler


def prepare(frame: pd.DataFrame, forced: dict[str, bool]) -> Prepared:
    """Informative columns, log1p where skewed (or ``forced``), median-imputed, standardised."""
    columns = _informative_columns(frame)
    if not columns:
        raise InsufficientData(
            f"all {frame.shape[1]} feature columns are constant or empty over {len(frame):,} users: "
            "nothing to cluster on"
        )
    data = frame[columns].copy()
    logs = _log_columns(data, forced)
    data[logs] = np.log1p(data[logs])
    imputed = SimpleImputer(strategy="median").fit_transform(data)
    transformed = pd.DataFrame(imputed, index=data.index, columns=columns)
    scaler = StandardScaler().fit(transformed)
    return Prepared(columns, logs, transformed, scaler.transform(transformed), scaler)


def forced_logs(centroids: pd.DataFrame) -> dict[str, bool]:
    """The log1p choice per feature of a stored centroids frame (empty when it has no ``transform`` column)."""
    if "transform" not in centroids.columns:
        return {}
    pairs = centroids.drop_duplicates("feature")[["feature", "transform"]].to_numpy()
    return {str(f): t == "log1p" for f, t in pairs}
