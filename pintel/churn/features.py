"""Which columns a churn model uses, and how each is typed.

Feature columns are *discovered* (every column except id / date / label / evaluation-only columns) or passed
explicitly, and string columns are one-hot encoded inside the fitted pipeline, so adding a feature to the dbt
model ``fct_user_features`` needs no change here. :meth:`FeatureSpec.prepare` is the one normalisation that
training and scoring share, which is what keeps the two from drifting apart.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pintel.churn.columns import DATE_COL, EVALUATION_ONLY_COLUMNS, ID_COL, LABEL_COL

__all__ = ["MAX_DISCOVERED_LEVELS", "MISSING_CATEGORY", "AllNullFeatureWarning", "FeatureSpec", "discover_features"]

#: Feature discovery skips string columns with more distinct values than this (see ``discover_features``).
MAX_DISCOVERED_LEVELS = 50

#: Stand-in category for NULL strings, so "plan unknown" is a level of its own rather than an error.
MISSING_CATEGORY = "__missing__"


class AllNullFeatureWarning(UserWarning):
    """A candidate feature was entirely NULL in the training window and was dropped (see ``on_all_null``)."""


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
    on_all_null: Literal["drop", "note", "raise"] = "drop",
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
    ``on_all_null="raise"`` to get a ``ValueError`` naming the column instead (e.g. in CI), or
    ``on_all_null="note"`` to drop and record it without the warning: for callers that surface the notes
    themselves (the dbt model writes them to the registry). Silencing the warning around the call instead
    would not be safe there: ``warnings.catch_warnings`` swaps the process-wide filter list, and dbt runs
    Python models on several threads, so two overlapping blocks can leave "ignore" installed for good.
    """
    if on_all_null not in ("drop", "note", "raise"):
        raise ValueError(f"on_all_null must be 'drop', 'note' or 'raise', got {on_all_null!r}")
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
            if on_all_null == "drop":
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
