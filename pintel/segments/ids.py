"""Segment ids that stay stable across runs, so dashboards and plays keyed on an id keep their meaning.

Without a previous run: ids 0..k-1 by decreasing size (ties broken by centroid), so the same data and seed give
the same ids. With ``previous`` (a prior result's ``centroids`` frame): the prior centroids are mapped into the
current standardised space and matched to the new ones with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) on Euclidean distance; pairs further apart than ``match_threshold``
(RMS distance per feature, in standard deviations) are not matched. Unmatched new segments get fresh ids above
every previous id, so an id is never reused for a different behaviour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from pintel.segments.features import Prepared
from pintel.segments.result import SegmentResult

__all__ = ["default_order", "match_ids", "previous_centroids"]


def default_order(centers: np.ndarray, sizes: np.ndarray) -> list[int]:
    """Cluster indices by decreasing size, ties broken by centroid coordinates: deterministic ids."""
    return sorted(range(len(sizes)), key=lambda i: (-int(sizes[i]), tuple(np.round(centers[i], 9))))


def previous_centroids(previous: pd.DataFrame | SegmentResult) -> pd.DataFrame:
    """The centroids frame of a previous run (a result, or the table read back from the warehouse), checked."""
    frame = previous.centroids if isinstance(previous, SegmentResult) else previous
    needed = {"segment_id", "feature", "center"}
    if not isinstance(frame, pd.DataFrame) or not needed <= set(frame.columns):
        raise ValueError(f"previous must be a SegmentResult or a centroids frame with columns {sorted(needed)}")
    if frame.empty:
        raise ValueError("previous centroids frame is empty")
    return frame


def match_ids(
    centers: np.ndarray,
    sizes: np.ndarray,
    prepared: Prepared,
    previous: pd.DataFrame,
    match_threshold: float,
) -> list[int]:
    """Segment id for each new cluster, keeping previous ids via Hungarian matching on centroids."""
    wide = previous.pivot_table(index="segment_id", columns="feature", values="center", aggfunc="first")
    shared = [c for c in prepared.columns if c in wide.columns]
    if not shared:
        raise ValueError("previous centroids share no feature with the current features")
    col_idx = [prepared.columns.index(c) for c in shared]
    prev = wide[shared].to_numpy(dtype=float)
    prev_std = (prev - prepared.scaler.mean_[col_idx]) / prepared.scaler.scale_[col_idx]
    new_std = centers[:, col_idx]
    cost = np.sqrt(((new_std[:, None, :] - prev_std[None, :, :]) ** 2).mean(axis=2))  # RMS distance
    cost = np.where(np.isfinite(cost), cost, 1e9)
    rows, cols = linear_sum_assignment(cost)
    prev_ids = [int(i) for i in wide.index]
    ids: dict[int, int] = {}
    for r, c in zip(rows, cols, strict=True):
        if cost[r, c] <= match_threshold:
            ids[int(r)] = prev_ids[c]
    next_id = max(prev_ids) + 1
    for i in default_order(centers, sizes):
        if i not in ids:
            ids[i] = next_id
            next_id += 1
    return [ids[i] for i in range(len(sizes))]
