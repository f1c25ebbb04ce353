"""``score``: the public churn scoring function, one row per user with a probability, a band and reasons.

It only uses the model's public methods (encode once, then probabilities, bands and explanations on the
same encoding), so any :class:`~pintel.churn.model.ChurnModel` version scores the same way and the output
schema never depends on the version or on the flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pintel.churn.columns import DATE_COL, ID_COL, EmptySnapshotError
from pintel.churn.model import ChurnModel, thread_limit

__all__ = ["score", "score_columns"]


def score_columns(n_reasons: int = 3, *, id_col: str = ID_COL, date_col: str = DATE_COL) -> list[str]:
    """Column order of :func:`score`'s output (stable, so the dbt model's schema never depends on flags)."""
    reasons = [f"reason_{i}" for i in range(1, n_reasons + 1)]
    return [id_col, date_col, "churn_probability", "risk_band", *reasons, "model_version", "model_hash"]


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

    * ``churn_probability``: calibrated probability of churning within the label horizon of the snapshot
      (the dbt var ``churn_horizon_days`` the model was trained on).
    * ``risk_band``: ``"high"`` if probability >= ``band_thresholds["high"]``, ``"medium"`` if >=
      ``["medium"]``, else ``"low"``. Defaults are the model's frozen cut-offs
      (:data:`~pintel.churn.model.RISK_BAND_QUANTILES`: 90th / 70th percentile of calibrate-window
      probabilities).
    * ``reason_1..reason_n``: the features pushing *this* user's risk up the most, strongest first, as text
      like ``"days_since_last_active high (21 vs typical 3)"``; None when fewer features push risk up or when
      ``reasons=False``. v1 compares with the training average ("avg"), v2 with the training median/mode
      ("typical"); see :meth:`~pintel.churn.model.ChurnModel.explain`.
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
    with thread_limit(n_threads):
        encoded = model.encode(df)
        probability = model.predict_proba(encoded)
        band = model.risk_bands(probability, band_thresholds)
        texts = [np.full(len(df), None, dtype=object) for _ in range(n_reasons)]
        if reasons:
            rows = np.arange(len(df)) if reason_bands is None else np.flatnonzero(np.isin(band, list(reason_bands)))
            if rows.size:
                explained = model.explain(encoded.take(rows), n_reasons)
                for column, name in zip(texts, explained.columns, strict=True):
                    column[rows] = explained[name].to_numpy()

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
