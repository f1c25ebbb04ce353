"""Behavioural segment discovery with stable, readable segment ids.

Pipeline (all scikit-learn / scipy, no hand-rolled maths):

1. **Features** -- numeric behavioural features per user (counts, rates, recency...). Constant or all-missing
   columns carry no information and are dropped; missing values are imputed with the median (robust to
   the heavy tails of activity counts).
2. **Transform** -- non-negative columns with sample skewness > 1 (session counts, events, revenue) get
   ``log1p``: without it KMeans spends its clusters splitting the long tail of power users instead of finding
   behaviours. Then every column is standardised so that no feature dominates by its unit.
3. **Clustering** -- ``KMeans(n_init=10, random_state=seed)`` for each k in ``k_range``. KMeans rather than a
   Gaussian mixture because segments are *named and tracked by their centroids* (a GMM's full covariances
   make "the centre of the segment" a weaker description and need far more data per component), it is
   deterministic for a fixed seed and it scales to hundreds of thousands of users.
4. **Choosing k** -- the highest silhouette score (ties -> smaller k), computed on a fixed-seed sample of at
   most 5 000 users so the cost stays bounded. Silhouette is scale-free and needs no likelihood model, which
   skewed behavioural data would violate (BIC on such data keeps adding components).
5. **Ids** -- without ``previous``: ids 0..k-1 by decreasing size (ties broken by centroid), so the same data
   and seed give the same ids. With ``previous`` (a prior result's ``centroids`` frame): the prior centroids
   are mapped into the current standardised space and matched to the new ones with the Hungarian algorithm
   (``scipy.optimize.linear_sum_assignment``) on Euclidean distance; pairs further apart than
   ``match_threshold`` (RMS distance per feature, in standard deviations) are not matched. Unmatched new
   segments get fresh ids above every previous id, so an id is never reused for a different behaviour.
6. **Names** -- the two features with the largest |standardised centroid| (at least 0.5 SD) give names such as
   "high sessions_per_week, high feature_breadth"; a segment with no such feature is "typical". Names are
   made unique by adding features (then the id) when two segments would collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import skew
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

__all__ = ["SegmentResult", "assign_segments", "discover_segments"]

CENTROID_COLUMNS: tuple[str, ...] = ("segment_id", "segment_name", "feature", "transform", "center")
_SKEW_FOR_LOG = 1.0
_SILHOUETTE_SAMPLE = 5_000
_NAME_MIN_Z = 0.5


@dataclass(frozen=True)
class SegmentResult:
    """Outcome of :func:`discover_segments`.

    Attributes:
        assignments: one row per user: ``user_id``, ``segment_id`` (int), ``segment_name``.
        profiles: indexed by ``segment_id``: ``segment_name``, ``size``, ``share`` and the mean of every
            original feature (original units, NaNs skipped).
        k: chosen number of segments.
        criterion: silhouette score per candidate k (index ``k``).
        centroids: long frame (``segment_id, segment_name, feature, transform, center``) with the centres in
            the transformed (log1p where applied), unstandardised space: warehouse-friendly, and what the
            next run needs as ``previous`` to keep ids stable.
    """

    assignments: pd.DataFrame
    profiles: pd.DataFrame
    k: int
    criterion: pd.Series
    centroids: pd.DataFrame

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.centroids["feature"]))


# --------------------------------------------------------------------------------------------------------------
# input handling and preprocessing
# --------------------------------------------------------------------------------------------------------------


def _validate(features: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise ValueError(f"features must be a pandas DataFrame, got {type(features).__name__}")
    if features.empty or features.shape[1] == 0:
        raise ValueError("features is empty: need at least one user and one feature column")
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
class _Prepared:
    columns: list[str]
    log_columns: list[str]
    transformed: pd.DataFrame  # log1p applied, NaNs imputed, not standardised
    matrix: np.ndarray  # standardised
    scaler: StandardScaler


def _prepare(frame: pd.DataFrame, forced_logs: dict[str, bool]) -> _Prepared:
    columns = _informative_columns(frame)
    if not columns:
        raise ValueError("all feature columns are constant or empty: nothing to cluster on")
    data = frame[columns].copy()
    logs = _log_columns(data, forced_logs)
    data[logs] = np.log1p(data[logs])
    imputed = SimpleImputer(strategy="median").fit_transform(data)
    transformed = pd.DataFrame(imputed, index=data.index, columns=columns)
    scaler = StandardScaler().fit(transformed)
    return _Prepared(columns, logs, transformed, scaler.transform(transformed), scaler)


# --------------------------------------------------------------------------------------------------------------
# clustering and k selection
# --------------------------------------------------------------------------------------------------------------


def _fit_candidates(
    matrix: np.ndarray, ks: list[int], seed: int, n_threads: int | None
) -> tuple[dict[int, KMeans], pd.Series]:
    """KMeans + silhouette for every candidate k.

    OpenMP threads are capped (default 1): on a shared, busy worker KMeans' OpenMP spin-waits made a
    2 000-user fit take 10 s instead of 0.1 s. Results do not depend on the thread count.
    """
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return _fit_all(matrix, ks, seed)


def _fit_all(matrix: np.ndarray, ks: list[int], seed: int) -> tuple[dict[int, KMeans], pd.Series]:
    sample = min(len(matrix), _SILHOUETTE_SAMPLE)
    models: dict[int, KMeans] = {}
    scores: dict[int, float] = {}
    for k in ks:
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(matrix)
        models[k] = model
        if len(np.unique(model.labels_)) < 2:
            scores[k] = float("nan")  # duplicated points can collapse clusters
            continue
        scores[k] = float(silhouette_score(matrix, model.labels_, sample_size=sample, random_state=seed))
    return models, pd.Series(scores, name="silhouette").rename_axis("k")


def _choose_k(criterion: pd.Series) -> int:
    valid = criterion.dropna()
    if valid.empty:
        raise ValueError("no candidate k produced at least two distinct clusters (are all users identical?)")
    best = valid.max()
    return int(min(k for k, v in valid.items() if np.isclose(v, best, rtol=0, atol=1e-12)))


# --------------------------------------------------------------------------------------------------------------
# stable ids
# --------------------------------------------------------------------------------------------------------------


def _default_order(centers: np.ndarray, sizes: np.ndarray) -> list[int]:
    """Cluster indices by decreasing size, ties broken by centroid coordinates: deterministic ids."""
    return sorted(range(len(sizes)), key=lambda i: (-int(sizes[i]), tuple(np.round(centers[i], 9))))


def _previous_centroids(previous: pd.DataFrame | SegmentResult) -> pd.DataFrame:
    frame = previous.centroids if isinstance(previous, SegmentResult) else previous
    needed = {"segment_id", "feature", "center"}
    if not isinstance(frame, pd.DataFrame) or not needed <= set(frame.columns):
        raise ValueError(f"previous must be a SegmentResult or a centroids frame with columns {sorted(needed)}")
    if frame.empty:
        raise ValueError("previous centroids frame is empty")
    return frame


def _match_ids(
    centers: np.ndarray,
    sizes: np.ndarray,
    prepared: _Prepared,
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
    for i in _default_order(centers, sizes):
        if i not in ids:
            ids[i] = next_id
            next_id += 1
    return [ids[i] for i in range(len(sizes))]


# --------------------------------------------------------------------------------------------------------------
# names and outputs
# --------------------------------------------------------------------------------------------------------------


def _name(z: np.ndarray, columns: list[str], n_terms: int) -> str:
    order = sorted(range(len(columns)), key=lambda j: (-abs(z[j]), columns[j]))
    terms = [f"{'high' if z[j] > 0 else 'low'} {columns[j]}" for j in order[:n_terms] if abs(z[j]) >= _NAME_MIN_Z]
    return ", ".join(terms) if terms else "typical"


def _names(centers: np.ndarray, columns: list[str], ids: list[int]) -> dict[int, str]:
    """Readable, unique names from the most distinguishing standardised centroid coordinates."""
    names = {seg: _name(centers[i], columns, 2) for i, seg in enumerate(ids)}
    for n_terms in range(3, len(columns) + 1):
        clashes = {n for n in names.values() if list(names.values()).count(n) > 1}
        if not clashes:
            break
        for i, seg in enumerate(ids):
            if names[seg] in clashes:
                names[seg] = _name(centers[i], columns, n_terms)
    counts = pd.Series(list(names.values())).value_counts()
    return {seg: (f"{n} #{seg}" if counts[n] > 1 else n) for seg, n in names.items()}


def _centroid_frame(prepared: _Prepared, centers: np.ndarray, ids: list[int], names: dict[int, str]) -> pd.DataFrame:
    unscaled = prepared.scaler.inverse_transform(centers)
    records = [
        {
            "segment_id": seg,
            "segment_name": names[seg],
            "feature": col,
            "transform": "log1p" if col in prepared.log_columns else "identity",
            "center": float(unscaled[i, j]),
        }
        for i, seg in enumerate(ids)
        for j, col in enumerate(prepared.columns)
    ]
    return pd.DataFrame.from_records(records, columns=list(CENTROID_COLUMNS)).sort_values(
        ["segment_id", "feature"], kind="mergesort", ignore_index=True
    )


def _profiles(frame: pd.DataFrame, segment_ids: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    means = frame.groupby(segment_ids).mean()
    sizes = pd.Series(segment_ids).value_counts()
    profiles = pd.DataFrame(
        {
            "segment_name": [names[s] for s in means.index],
            "size": [int(sizes[s]) for s in means.index],
            "share": [float(sizes[s]) / len(segment_ids) for s in means.index],
        },
        index=means.index,
    ).join(means)
    profiles.index.name = "segment_id"
    return profiles.sort_index()


# --------------------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------------------


def discover_segments(
    features: pd.DataFrame,
    *,
    k_range: Iterable[int] = range(3, 9),
    seed: int = 0,
    previous: pd.DataFrame | SegmentResult | None = None,
    match_threshold: float = 1.0,
    n_threads: int | None = 1,
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

    Returns:
        :class:`SegmentResult`.

    Raises:
        ValueError: not a DataFrame, empty, duplicated user ids, non-numeric or infinite values, all
            features constant, fewer users than needed for the requested k, invalid ``previous``.
    """
    frame = _validate(features)
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ValueError(f"k_range must contain integers >= 2, got {ks}")
    usable = [k for k in ks if k < len(frame)]
    if not usable:
        raise ValueError(f"need more users than segments: {len(frame)} users for k_range {ks}")
    prev = _previous_centroids(previous) if previous is not None else None
    forced_logs: dict[str, bool] = {}
    if prev is not None and "transform" in prev.columns:
        forced_logs = {
            str(f): t == "log1p" for f, t in prev.drop_duplicates("feature")[["feature", "transform"]].to_numpy()
        }
    prepared = _prepare(frame, forced_logs)

    models, criterion = _fit_candidates(prepared.matrix, usable, seed, n_threads)
    k = _choose_k(criterion)
    model = models[k]
    centers = model.cluster_centers_
    sizes = np.bincount(model.labels_, minlength=k)
    if prev is not None:
        ids = _match_ids(centers, sizes, prepared, prev, match_threshold)
    else:
        order = _default_order(centers, sizes)
        ids = [order.index(i) for i in range(k)]
    names = _names(centers, prepared.columns, ids)
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
        profiles=_profiles(frame, segment_ids, names),
        k=k,
        criterion=criterion,
        centroids=_centroid_frame(prepared, centers, ids, names),
    )


def assign_segments(features: pd.DataFrame, centroids: pd.DataFrame) -> pd.DataFrame:
    """Assign users to the nearest stored centroid (the ``centroids`` frame of a :class:`SegmentResult`).

    The features go through the same preprocessing as in :func:`discover_segments` (the stored log1p
    choices, median imputation, standardisation on these users), and each user gets the segment whose
    standardised centroid is nearest. On the features a result was fitted on, this reproduces its
    assignments exactly (KMeans labels are the nearest final centre), which lets a warehouse keep only the
    centroids as state. Returns ``user_id``, ``segment_id``, ``segment_name``.
    """
    frame = _validate(features)
    prev = _previous_centroids(centroids)
    wide = prev.pivot_table(index="segment_id", columns="feature", values="center", aggfunc="first")
    missing = [c for c in wide.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"features lack centroid features {missing}")
    forced = {}
    if "transform" in prev.columns:
        forced = {str(f): t == "log1p" for f, t in prev.drop_duplicates("feature")[["feature", "transform"]].to_numpy()}
    prepared = _prepare(frame[list(wide.columns)], forced)
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
