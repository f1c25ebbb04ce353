"""The outcome of a segmentation and the warehouse-friendly frames built from it.

The ``centroids`` frame is the segments' whole state: stored by the ``user_segment_centroids`` model, it is
what the next run needs to keep ids stable and what :func:`pintel.segments.assign_segments` assigns users with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pintel.segments.features import Prepared

__all__ = ["CENTROID_COLUMNS", "CENTROID_SCHEMA", "SEGMENT_SCHEMA", "SegmentResult", "centroid_frame", "profiles"]

CENTROID_COLUMNS: tuple[str, ...] = ("segment_id", "segment_name", "feature", "transform", "center")
#: ``user_segment_centroids`` as the warehouse stores it (column -> DuckDB type): the centroids plus the run's k,
#: silhouette and window end; the empty output of a skipped run has exactly these columns.
CENTROID_SCHEMA: dict[str, str] = {
    "segment_id": "bigint",
    "segment_name": "varchar",
    "feature": "varchar",
    "transform": "varchar",
    "center": "double",
    "k": "bigint",
    "silhouette": "double",
    "window_end": "date",
}
#: ``user_segments``: one row per recently active user.
SEGMENT_SCHEMA: dict[str, str] = {
    "user_id": "varchar",
    "segment_id": "bigint",
    "segment_name": "varchar",
    "window_start": "date",
    "window_end": "date",
}


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
        """The features the segments were fitted on, in centroid order."""
        return tuple(dict.fromkeys(self.centroids["feature"]))


def centroid_frame(prepared: Prepared, centers: np.ndarray, ids: list[int], names: dict[int, str]) -> pd.DataFrame:
    """Centres in the transformed (log1p where applied), unstandardised space: readable in the warehouse and
    mappable into the next run's standardisation, which differs as the users change."""
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


def profiles(frame: pd.DataFrame, segment_ids: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    """Per segment: name, size, share and the mean of every original feature, in original units."""
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
