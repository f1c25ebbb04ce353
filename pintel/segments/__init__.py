"""Behavioural segments: users clustered on what they do, with readable names and ids stable across runs.

One module per step (scikit-learn / scipy throughout, no hand-rolled maths):

==============  =====================================================================================
``features``    validation and preparation: drop uninformative columns, log1p skewed counts, impute, scale
``clustering``  KMeans for each candidate k, k chosen by the highest (sampled) silhouette
``ids``         ids stable across runs: Hungarian matching of new centroids to the previous run's
``naming``      readable, unique names from the most distinguishing centroid coordinates
``result``      :class:`SegmentResult` and its warehouse frames (centroids, profiles)
``discover``    the entry points: :func:`discover_segments` (fit) and :func:`assign_segments` (stored state)
``evaluate``    agreement with planted personas and stability between runs (adjusted Rand index)
==============  =====================================================================================
"""

from __future__ import annotations

from pintel.segments.discover import assign_segments, discover_segments
from pintel.segments.evaluate import segment_agreement, segment_stability
from pintel.segments.result import CENTROID_COLUMNS, CENTROID_SCHEMA, SEGMENT_SCHEMA, SegmentResult

__all__ = [
    "CENTROID_COLUMNS",
    "CENTROID_SCHEMA",
    "SEGMENT_SCHEMA",
    "SegmentResult",
    "assign_segments",
    "discover_segments",
    "segment_agreement",
    "segment_stability",
]
