"""Time-ordered windows of the snapshot panel: train / calibrate / test, and the snapshot to score.

Never random: the same user appears in every weekly snapshot, so a random split would put near-copies of a
test row in training and overstate accuracy; and production always predicts a future week.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pintel.churn.columns import DATE_COL, ID_COL, LABEL_COL, EmptySnapshotError, as_binary_labels

__all__ = ["latest_snapshot", "time_split"]


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
    if ``d + gap_days`` is not after the first date of the next window. With ``gap_days`` set to the label
    horizon (``churn_horizon_days``) every label used to fit a window was already observable when the next
    window starts, exactly as in production, so backtests are not flattered by outcomes that overlap the
    evaluation period (a 30-day horizon needs ~5 more weekly dates per boundary).

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
            f"no labelled rows: every {label_col!r} is NULL (is the label horizon observable for any snapshot yet?)"
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
