"""The column contract every churn function defaults to, and the checks shared by training, evaluation and
monitoring.

This is the lowest layer of :mod:`pintel.churn`: it imports nothing from the package, so every other module
can use the names, :class:`EmptySnapshotError` and :func:`as_binary_labels` without an import cycle.

Defaults (every function takes overrides): ``user_id``, ``snapshot_date`` and the label ``churned_30d``. The
label's horizon is the dbt var ``churn_horizon_days`` (30 by default); the column keeps its historical name
whatever the var says. Evaluation-only columns: ``oracle_probability`` (simulated truth, never a feature) and
``churn_date``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pintel.status import InsufficientData

__all__ = [
    "CHURN_DATE_COL",
    "DATE_COL",
    "EVALUATION_ONLY_COLUMNS",
    "ID_COL",
    "LABEL_COL",
    "ORACLE_COL",
    "EmptySnapshotError",
    "as_binary_labels",
]

ID_COL = "user_id"
DATE_COL = "snapshot_date"
LABEL_COL = "churned_30d"
#: Simulated true probability. Evaluation only: accepting it as a feature would leak the answer.
ORACLE_COL = "oracle_probability"
#: Date the user churned (NULL if not, or not yet). Evaluation only (``early_flag_share``): it is the future.
CHURN_DATE_COL = "churn_date"
EVALUATION_ONLY_COLUMNS = (ORACLE_COL, CHURN_DATE_COL)


class EmptySnapshotError(InsufficientData):
    """Raised when there is nothing to learn from or score: no labelled rows, or a snapshot with no users.

    An :class:`~pintel.status.InsufficientData`: in the warehouse the model is skipped (or keeps its last good
    output, marked stale) instead of failing the build.

    A subclass of ``ValueError`` so generic callers still catch it, but specific so the dbt/Dagster layer can
    tell "the upstream model produced an empty snapshot" (an upstream data incident, alert the data team)
    apart from a programming error.
    """


def as_binary_labels(values: pd.Series | np.ndarray, name: str = "label") -> np.ndarray:
    """Return ``values`` as an int8 0/1 array, or raise ``ValueError`` naming the offending values.

    Accepts bool, integer, float (0.0/1.0) and nullable integer columns, because warehouses hand labels back
    in all of these. NULLs must be removed by the caller: a NULL label means "horizon not yet observable",
    which is a filtering decision, not something to coerce silently.
    """
    series = pd.Series(values)
    if series.isna().any():
        raise ValueError(f"label column {name!r} contains NULLs; keep only rows whose outcome is observable")
    try:
        numeric = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        examples = sorted(map(str, series.unique()[:5]))
        raise ValueError(f"label column {name!r} must be binary 0/1; found values such as {examples}") from exc
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        examples = sorted(set(numeric[bad].tolist()))[:5]
        raise ValueError(f"label column {name!r} must be binary 0/1; found values {examples}")
    return numeric.astype(np.int8)
