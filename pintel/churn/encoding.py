"""The encoding both model classes share: features -> a dense float matrix, and back to features.

v1 needs finite inputs, v2 passes NaN to the trees' native handling; otherwise the layout is the same, which
is what lets :func:`column_groups` map every encoded column back to the business feature it came from, so
contributions and reasons are reported per feature, not per dummy column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

from pintel.churn.features import FeatureSpec

__all__ = ["column_groups", "make_encoder", "mode", "reference_frame"]


def make_encoder(spec: FeatureSpec, *, impute: bool) -> ColumnTransformer:
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


def column_groups(spec: FeatureSpec, encoder: ColumnTransformer, n_out: int) -> tuple[np.ndarray, ...]:
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


def reference_frame(spec: FeatureSpec, reference: Mapping[str, Any]) -> pd.DataFrame:
    """One row holding each feature's reference value, to encode it exactly like a scored row."""
    data: dict[str, Any] = {c: [float(reference[c])] for c in spec.numeric}
    data.update({c: pd.Series([reference[c]], dtype=object) for c in spec.categorical})
    return pd.DataFrame(data)


def mode(values: pd.Series) -> str:
    """The most frequent value as text; ties go to the smallest, so the reference is deterministic."""
    counts = values.value_counts()
    best = counts.max()
    return sorted(str(v) for v, c in counts.items() if c == best)[0]
