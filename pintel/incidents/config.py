"""The knobs of the incident pipeline, in one frozen dataclass every stage reads.

One object rather than keyword arguments scattered over the stages, so that the series views, the grouping
and the descriptions can never disagree about a threshold. How the defaults were chosen (from reasoning on
simulated warehouses, never from the planted incidents' shapes or dates) is in :mod:`pintel.incidents.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IncidentConfig"]


@dataclass(frozen=True)
class IncidentConfig:
    """Knobs of the incident pipeline.

    Attributes:
        threshold: detector threshold on ``|score|`` (see :func:`pintel.incidents.detect`).
        sparse_below: series carried by fewer users than this per hour on average (for events: the
            segment's active users; otherwise the series' own mean) are *sparse*.
        dense_windows: trailing-sum windows (hours) added to the hourly view of dense series.
        sparse_windows: trailing-sum windows replacing the hourly view of sparse series.
        min_mean: a view whose mean per point (in user units) is below this is not watched at all: a few
            events a day cannot carry evidence at any hourly view.
        view_level_window: level window (points) of the sparse series' views; a week, because the default
            (two days) holds too few users to pin a sparse baseline down.
        min_points: pieces of evidence an incident needs to be raised (see
            :func:`pintel.incidents.describe.confirmation`).
        confirm_score: a single point at least this extreme raises an incident on its own.
        span_score: hysteresis threshold extending the cause's flagged run to its neighbours.
        min_share: share of a run's deviation a smaller segment must carry to explain it, and share of the
            total's deviation a segment must carry to be an incident's cause.
        recovery_hours / rebound_after_hours: a weaker opposite move of the same cause starting within
            ``recovery_hours`` after an incident that lasted ``rebound_after_hours`` or more is its rebound,
            not a new incident (see :func:`pintel.incidents.grouping.merge_same_cause`).
        context_before / context_after: points kept around flagged points of flagged series.
        daily: also watch the daily marts (``dau``, daily ``signups``).
        unwatched_categories: event-taxonomy categories whose events record the instrumentation itself
            (a flag evaluated, an experiment exposure), not product behaviour: not watched as metrics.
    """

    threshold: float = 4.5
    sparse_below: float = 5.0
    dense_windows: tuple[int, ...] = (2,)
    sparse_windows: tuple[int, ...] = (6,)
    min_mean: float = 1.0
    view_level_window: int | None = 169
    min_points: int = 2
    confirm_score: float = 9.0
    span_score: float = 2.0
    min_share: float = 0.5
    recovery_hours: int = 48
    rebound_after_hours: int = 12
    context_before: int = 48
    context_after: int = 24
    daily: bool = True
    unwatched_categories: tuple[str, ...] = ("experiment", "instrumentation")
