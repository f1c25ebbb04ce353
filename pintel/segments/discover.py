"""Discover segments (fit) and assign users to stored ones: the two entry points composing the steps.

``discover_segments`` runs features -> clustering -> ids -> names; ``assign_segments`` reproduces a stored
run's assignment from its centroids alone, which lets the warehouse keep only the centroids as state. The why
of each step is in its module's docstring (see :mod:`pintel.segments`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from pintel.segments.clustering import choose_k, fit_candidates
from pintel.segments.features import forced_logs, prepare, validate
from pintel.segments.ids import default_order, match_ids, previous_centroids
from pintel.segments.naming import names as segment_names
from pintel.segments.result import SegmentResult, centroid_frame, profiles
from pintel.status import InsufficientData, need

__all__ = ["assign_segments", "discover_segments"]


def discover_segments(
    features: pd.DataFrame,
    *,
    k_range: Iterable[int] = range(3, 9),
    seed: int = 0,
    previous: pd.DataFrame | SegmentResult | None = None,
    match_threshold: float = 1.0,
    n_threads: int | None = 1,
    min_users_per_segment: int = 1,
) -> SegmentResult:
    """Cluster users into behavioural segments with readable names and ids that stay stable across runs.

    Args:
        features: one row per user (index = user id), numeric feature columns; NaNs are imputed.
        k_range: candidate numbers of segments; k must be >= 2 and below the number of users.
        seed: seeds KMeans and the silhouette sample: same data + seed -> identical result.
        previous: a prior :class:`SegmentResult` or its ``centroids`` frame (e.g. read back from the
            warehouse). Matching clusters keep their previous ids; the previous run's log1p choices are
            reused for shared features so both runs live in the same space.
        match_threshold: largest RMS centroid distance (in standard deviations per feature) for a new
            cluster to inherit a previous id.
        n_threads: OpenMP threads for KMeans (None = library default). 1 is robust on shared workers.
        min_users_per_segment: a k is a candidate only with at least this many users per segment on average
            (and always fewer segments than users). The warehouse sets it (``user_segment_centroids.yml``):
            a "segment" of two users is an anecdote, not something to target.

    Returns:
        :class:`SegmentResult`.

    Raises:
        InsufficientData: (a ``ValueError``) fewer users than the smallest k needs, all features constant, or
            users so alike that no k gives two distinct clusters -- valid data to learn nothing from.
        ValueError: not a DataFrame, empty, duplicated user ids, non-numeric or infinite values, invalid
            ``previous``.
    """
    frame = validate(features)
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ValueError(f"k_range must contain integers >= 2, got {ks}")
    per_segment = max(1, int(min_users_per_segment))
    usable = [k for k in ks if k < len(frame) and k * per_segment <= len(frame)]
    if not usable:
        minimum = max(ks[0] + 1, ks[0] * per_segment)
        raise need(len(frame), "user", minimum, what=f"to form {ks[0]} segments (need more users than segments)")
    prev = previous_centroids(previous) if previous is not None else None
    prepared = prepare(frame, forced_logs(prev) if prev is not None else {})

    models, criterion = fit_candidates(prepared.matrix, usable, seed, n_threads)
    k = choose_k(criterion)
    model = models[k]
    centers = model.cluster_centers_
    sizes = np.bincount(model.labels_, minlength=k)
    if prev is not None:
        ids = match_ids(centers, sizes, prepared, prev, match_threshold)
    else:
        order = default_order(centers, sizes)
        ids = [order.index(i) for i in range(k)]
    names = segment_names(centers, prepared.columns, ids)
    segment_ids = np.asarray(ids)[model.labels_]

    assignments = pd.DataFrame(
        {
            "user_id": frame.index.to_numpy(),
            "segment_id": segment_ids.astype(int),
            "segment_name": [names[s] for s in segment_ids],
        }
    )
    return SegmentResult(
        assignments=assignments,
        profiles=profiles(frame, segment_ids, names),
        k=k,
        criterion=criterion,
        centroids=centroid_frame(prepared, centers, ids, names),
    )


def assign_segments(features: pd.DataFrame, centroids: pd.DataFrame) -> pd.DataFrame:
    """Assign users to the nearest stored centroid (the ``centroids`` frame of a :class:`SegmentResult`).

    The features go through the same preprocessing as in :func:`discover_segments` (the stored log1p
    choices, median imputation, standardisation on these users), and each user gets the segment whose
    standardised centroid is nearest. On the features a result was fitted on, this reproduces its
    assignments exactly (KMeans labels are the nearest final centre), which lets a warehouse keep only the
    centroids as state. Returns ``user_id``, ``segment_id``, ``segment_name``.
    """
    frame = validate(features)
    if centroids.empty:
        raise InsufficientData("no stored segments to assign users to (user_segment_centroids is empty)")
    prev = previous_centroids(centroids)
    wide = prev.pivot_table(index="segment_id", columns="feature", values="center", aggfunc="first")
    missing = [c for c in wide.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"features lack centroid features {missing}")
    prepared = prepare(frame[list(wide.columns)], forced_logs(prev))
    cols = prepared.columns
    centers = (wide[cols].to_numpy(dtype=float) - prepared.scaler.mean_) / prepared.scaler.scale_
    dist = ((prepared.matrix[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    ids = wide.index.to_numpy()[dist.argmin(axis=1)].astype(int)
    names = (
        prev.drop_duplicates("segment_id").set_index("segment_id")["segment_name"]
        if "segment_name" in prev.columns
        else pd.Series({i: str(i) for i in wide.index})
    )
    return pd.DataFrame(
        {"user_id": frame.index.to_numpy(), "segment_id": ids, "segment_name": names.reindex(ids).to_numpy()}
    )
