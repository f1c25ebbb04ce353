"""Turn an arbitrary DataFrame into the arrays the causal estimators need.

Everything that can go wrong with real warehouse extracts is decided here, once, so the
estimators can assume clean float arrays:

* treatment must be binary (0/1 or bool) -- a three-level "treatment" silently cast to 0/1
  would estimate something nobody asked for, so anything else is a ``ValueError``;
* rows with a missing treatment or outcome cannot contribute and are dropped, with a warning
  that states how many (silent row loss is how selection bias sneaks in);
* categorical covariates (object / string / category) are one-hot encoded; rare levels beyond
  the ``MAX_LEVELS`` most frequent are pooled so a free-text column cannot explode the design;
* numeric NaNs are median-imputed *and* get a missingness indicator, because in product data
  "missing" is usually informative (e.g. no pre-period activity) and may itself confound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

MAX_LEVELS = 20
"""Most frequent levels kept per categorical covariate; the rest become ``__other__``."""

MIN_UNITS_PER_ARM = 10
"""Below this many units in an arm no nuisance model (nor any variance) is worth reporting."""


@dataclass(frozen=True)
class PreparedData:
    """Clean inputs for the estimators.

    ``groups`` identifies the original row of every unit; it only differs from ``arange(n)``
    in bootstrap resamples, where duplicated rows must land in the same cross-fitting fold.
    """

    X: pd.DataFrame
    t: np.ndarray
    y: np.ndarray
    binary_outcome: bool
    n_input: int
    n_dropped_missing: int
    warnings: tuple[str, ...]
    groups: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.t)

    def take(self, idx: np.ndarray, *, as_groups: bool = False) -> PreparedData:
        """Rows ``idx`` (with repetition allowed); ``as_groups`` records them for grouped folds."""
        return replace(
            self,
            X=self.X.iloc[idx].reset_index(drop=True),
            t=self.t[idx],
            y=self.y[idx],
            groups=np.asarray(idx) if as_groups else None,
        )

    def with_treatment(self, t: np.ndarray) -> PreparedData:
        return replace(self, t=np.asarray(t, dtype=int))

    def with_covariate(self, name: str, values: np.ndarray) -> PreparedData:
        X = self.X.copy()
        X[name] = np.asarray(values, dtype=float)
        return replace(self, X=X)


def prepare(df: pd.DataFrame, treatment: str, outcome: str, covariates: Sequence[str]) -> PreparedData:
    """Validate ``df`` and build the design matrix; raises ``ValueError`` on unusable input."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    covariates = list(covariates)
    if not covariates:
        raise ValueError("at least one covariate is required: without covariates there is nothing to adjust")
    if len(set(covariates)) != len(covariates):
        raise ValueError("covariates contain duplicates")
    if treatment == outcome:
        raise ValueError("treatment and outcome must be different columns")
    clash = {treatment, outcome} & set(covariates)
    if clash:
        raise ValueError(f"treatment/outcome must not also be covariates: {sorted(clash)}")
    missing = [c for c in [treatment, outcome, *covariates] if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found in the frame: {missing}")
    if len(df) == 0:
        raise ValueError("the frame is empty")

    warnings: list[str] = []
    keep = (df[treatment].notna() & df[outcome].notna()).to_numpy()
    n_dropped = int((~keep).sum())
    if n_dropped:
        warnings.append(
            f"dropped {n_dropped} of {len(df)} rows ({n_dropped / len(df):.1%}) with a missing treatment or outcome"
        )
    data = df.loc[keep]

    t = _binary_treatment(data[treatment], treatment)
    y, binary = _numeric_outcome(data[outcome], outcome)
    n_treated = int(t.sum())
    n_control = len(t) - n_treated
    if n_treated == 0 or n_control == 0:
        raise ValueError(
            f"treatment '{treatment}' has no variation after dropping missing rows "
            f"({n_treated} treated, {n_control} control): no contrast can be estimated"
        )
    if min(n_treated, n_control) < MIN_UNITS_PER_ARM:
        raise ValueError(
            f"too few units per arm ({n_treated} treated, {n_control} control); "
            f"need at least {MIN_UNITS_PER_ARM} in each"
        )
    X, design_warnings = design_matrix(data[covariates])
    warnings.extend(design_warnings)
    return PreparedData(
        X=X,
        t=t,
        y=y,
        binary_outcome=binary,
        n_input=len(df),
        n_dropped_missing=n_dropped,
        warnings=tuple(warnings),
    )


def _binary_treatment(s: pd.Series, name: str) -> np.ndarray:
    s = s.infer_objects()
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool).to_numpy(dtype=int)
    if not pd.api.types.is_numeric_dtype(s):
        raise ValueError(f"treatment '{name}' must be binary 0/1 or bool, got dtype {s.dtype}")
    values = s.to_numpy(dtype=float)
    levels = np.unique(values)
    if not set(levels.tolist()) <= {0.0, 1.0}:
        shown = ", ".join(f"{v:g}" for v in levels[:6])
        raise ValueError(f"treatment '{name}' must be binary 0/1 or bool; found values {{{shown}}}")
    return values.astype(int)


def _numeric_outcome(s: pd.Series, name: str) -> tuple[np.ndarray, bool]:
    s = s.infer_objects()
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool).to_numpy(dtype=float), True
    if not pd.api.types.is_numeric_dtype(s):
        raise ValueError(f"outcome '{name}' must be numeric or bool, got dtype {s.dtype}")
    y = s.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"outcome '{name}' contains infinite values")
    return y, set(np.unique(y).tolist()) <= {0.0, 1.0}


def design_matrix(covs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Float design matrix: numerics (+ missingness indicators) and one-hot categoricals.

    Constant columns are dropped: they carry no information and give undefined balance statistics.
    """
    columns: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for name in covs.columns:
        s = covs[name].infer_objects()
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            raise ValueError(f"covariate '{name}' is a date/duration: convert it to a number (e.g. days since)")
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            values = s.astype("Float64") if pd.api.types.is_bool_dtype(s) else s
            x = values.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(x).any():
                raise ValueError(f"covariate '{name}' contains infinite values")
            nan = np.isnan(x)
            if nan.all():
                warnings.append(f"covariate '{name}' is entirely missing and was ignored")
                continue
            if nan.any():
                x = np.where(nan, np.nanmedian(x), x)
                columns[f"{name}__missing"] = nan.astype(float)
            columns[name] = x
        else:
            levels = s.astype(object).where(s.notna(), "__missing__").astype(str)
            top = levels.value_counts().index[:MAX_LEVELS]
            levels = levels.where(levels.isin(top), "__other__")
            for level in sorted(levels.unique()):
                columns[f"{name}={level}"] = (levels == level).to_numpy(dtype=float)
    X = pd.DataFrame(columns)
    constant = [c for c in X.columns if np.ptp(X[c].to_numpy()) == 0]
    X = X.drop(columns=constant)
    if X.shape[1] == 0:
        raise ValueError("no usable covariates: every covariate is constant or entirely missing")
    return X.reset_index(drop=True), warnings
