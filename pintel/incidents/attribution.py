"""Root-cause attribution: which segment explains a deviation, decided once per incident.

Two questions, one module:

* :func:`attribute` -- contribution analysis (Adtributor-style) of one aggregate's deviation over its
  segments: each value's share of the total's deviation and how surprising its move is within its dimension.
  Generic: any ``observed``/``expected`` breakdown.
* :func:`decide_cause` -- the cause of an incident in the making (an :class:`~pintel.incidents.grouping.Episode`
  of the pipeline), decided in **one** pass from two kinds of evidence. The chain rule of the grouping (a run is
  explained by the most specific smaller segment carrying half of its deviation) proposes the episode's roots;
  the contribution analysis on the total, when the total itself moved, chooses among every segment the
  episode flagged. The chain rule alone is fooled by sparse counts: a proportional slice can reach half of a
  run's deviation by chance (android's signups during a paid-social burst, whose expected count happened to be
  tiny) and then "explains" the real cause; the contribution analysis compares every candidate against the
  same total, and its surprise term prefers the segment whose share of the metric moved (the concentrated
  cause), not the slice that moved with it. Before this module the cause was picked by the grouping and then
  corrected twice afterwards; now the grouping only groups and the cause is decided here, once.

:func:`deviations_overlap` is the grouping's test for two causes being one event seen through two dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pintel.incidents.series import ALL, OVERALL, WHOLE_POPULATION, Segment, label

__all__ = [
    "CONCENTRATION",
    "Concentration",
    "attribute",
    "concentrated",
    "concentration",
    "decide_cause",
    "deviations_overlap",
    "explain_total",
    "shares",
]

# Two disjoint sets of users cannot each carry more than half of the total's deviation: when two causes' shares
# of it add up to more than this (a margin above 1 for noise), their deviations overlap and they are one event.
_OVERLAP_SUM = 1.2
# The total's own evidence, its scores summed over the timestamps / sqrt(n), below which a share of its
# deviation is noise.
_TOTAL_MOVED_Z = 2.0
# A segment is where a move sits when the rest of its dimension changed by at most this fraction of its own
# relative change: a proportional slice (every platform losing the event, every event falling with the
# product) carries its share of the deviation but is not a cause.
CONCENTRATION = 0.5


# ------------------------------------------------------------------------------------------------------------
# contribution analysis (generic)
# ------------------------------------------------------------------------------------------------------------


def _total_pair(total: pd.Series | pd.DataFrame | Mapping[str, float] | None) -> tuple[float, float] | None:
    if total is None:
        return None
    if isinstance(total, pd.DataFrame):
        if len(total) != 1:
            raise ValueError(f"total must be a single row, got {len(total)} rows")
        total = total.iloc[0]
    try:
        return float(total["observed"]), float(total["expected"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("total needs numeric 'observed' and 'expected'") from exc


def _js_surprise(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-element Jensen-Shannon divergence term between expected share p and observed share q."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = (p + q) / 2.0
        term_p = np.where(p > 0, p * np.log(p / m), 0.0)
        term_q = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (term_p + term_q)


def attribute(
    total: pd.Series | pd.DataFrame | Mapping[str, float] | None,
    breakdown: pd.DataFrame,
    *,
    min_share: float = 0.1,
) -> pd.DataFrame:
    """Rank segment values by how much of an aggregate's deviation they explain (Adtributor-style).

    For each row (``segment_dim``, ``segment_value``, ``observed``, ``expected``) at the anomalous timestamp:

    * ``contribution_share`` (explanatory power) = (observed - expected) / (total observed - total expected):
      the share of the aggregate's deviation this segment value accounts for. Values of one dimension sum
      to ~1 when the dimension partitions the total; a share > 1 is possible when others moved the other way.
    * ``relative_change`` = observed / expected - 1 (the "-61 %" in an alert).
    * ``surprise`` = Jensen-Shannon term between the value's expected share and observed share *within its
      dimension*. A segment that fell exactly as much as the total (a proportional slice) has surprise 0,
      however big it is: it explains nothing.

    Ranking: rows whose contribution share is at least ``min_share`` (same sign as the total deviation) come
    first, ordered by surprise then share; the rest follow by share. So "platform=android explains 92 % of
    the drop (-61 %)" beats "country=US explains 80 %" when the US merely fell with everyone else.

    ``total`` is a Series/mapping/one-row frame with ``observed`` and ``expected``; if None, each dimension's
    own sums are used as the total. Returns the ranked rows with ``rank`` (1 = best explanation).
    """
    needed = {"segment_dim", "segment_value", "observed", "expected"}
    if not isinstance(breakdown, pd.DataFrame) or not needed <= set(breakdown.columns):
        raise ValueError(f"breakdown must be a DataFrame with columns {sorted(needed)}")
    cols = ["segment_dim", "segment_value", "observed", "expected", "contribution_share", "relative_change"]
    if breakdown.empty:
        return pd.DataFrame(columns=[*cols, "surprise", "rank"])
    frame = breakdown[list(needed)].copy()
    frame["observed"] = pd.to_numeric(frame["observed"], errors="raise").astype(float)
    frame["expected"] = pd.to_numeric(frame["expected"], errors="raise").astype(float)
    pair = _total_pair(total)
    dim_obs = frame.groupby("segment_dim", dropna=False)["observed"].transform("sum")
    dim_exp = frame.groupby("segment_dim", dropna=False)["expected"].transform("sum")
    deviation = frame["observed"] - frame["expected"]
    total_dev = (pair[0] - pair[1]) if pair is not None else (dim_obs - dim_exp)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = deviation / total_dev
        frame["contribution_share"] = share.where(np.isfinite(share))
        rel = frame["observed"] / frame["expected"] - 1.0
        frame["relative_change"] = rel.where(frame["expected"] != 0)
        p = (frame["expected"] / dim_exp).fillna(0.0).to_numpy()
        q = (frame["observed"] / dim_obs).fillna(0.0).to_numpy()
    frame["surprise"] = _js_surprise(np.clip(p, 0, None), np.clip(q, 0, None))
    # Shares only for proper subsets: a dimension's only value, or a value holding (nearly) all of its
    # dimension, is the population again and explains nothing.
    values = frame.groupby("segment_dim", dropna=False)["segment_value"].transform("nunique")
    whole = (values <= 1) | (frame["expected"] >= WHOLE_POPULATION * dim_exp) & (dim_exp > 0)
    frame.loc[whole, "contribution_share"] = np.nan
    candidate = frame["contribution_share"].fillna(-np.inf) >= min_share
    frame["_cand"] = ~candidate  # False sorts first
    frame["_neg_surprise"] = -frame["surprise"]
    frame["_neg_share"] = -frame["contribution_share"].fillna(-np.inf)
    frame = frame.sort_values(
        ["_cand", "_neg_surprise", "_neg_share", "segment_dim", "segment_value"],
        key=lambda s: s.astype(str) if s.name in ("segment_dim", "segment_value") else s,
        kind="mergesort",
    )
    frame = frame.loc[:, [*cols, "surprise"]].reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


# ------------------------------------------------------------------------------------------------------------
# contribution analysis over the anomalies table
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Breakdown:
    """One metric at one grain summed over timestamps: per segment observed/expected, the total's evidence."""

    sums: pd.DataFrame  # segment_dim, segment_value, observed, expected, label
    total_z: float  # the total's scores summed over the timestamps / sqrt(n); NaN without total rows

    @property
    def total(self) -> pd.DataFrame:
        return self.sums[self.sums["segment_dim"].eq(ALL)]


def _breakdown(anomalies: pd.DataFrame, metric: str, grain: str, ts: Iterable[pd.Timestamp]) -> _Breakdown:
    """Every segment of ``metric`` at ``grain`` summed over ``ts`` (rows with an expectation only)."""
    rows = anomalies[
        anomalies["metric"].eq(metric) & anomalies["grain"].eq(grain) & anomalies["ts"].isin(list(ts))
    ].dropna(subset=["expected"])
    sums = rows.groupby(["segment_dim", "segment_value"], as_index=False)[["observed", "expected"]].sum()
    sums["label"] = [label(d, v) for d, v in zip(sums["segment_dim"], sums["segment_value"], strict=True)]
    scores = rows.loc[rows["segment_dim"].eq(ALL), "score"].dropna()
    total_z = float(scores.sum() / math.sqrt(len(scores))) if len(scores) else float("nan")
    return _Breakdown(sums, total_z)


def _with_labels(ranked: pd.DataFrame) -> pd.DataFrame:
    return ranked.assign(
        label=[label(d, v) for d, v in zip(ranked["segment_dim"], ranked["segment_value"], strict=True)]
    )


def shares(
    anomalies: pd.DataFrame,
    metric: str,
    grain: str,
    ts: Iterable[pd.Timestamp],
    labels: Sequence[str],
    min_share: float = 0.1,
) -> pd.DataFrame | None:
    """Contribution analysis of one metric@grain over timestamps, restricted to the given segment labels.

    The breakdown holds the labels' whole dimensions (the surprise compares shares within one). None when the
    total of that metric is missing or did not itself move (z below 2 in the direction of its deviation):
    shares of a total that did not move are noise.
    """
    found = _breakdown(anomalies, metric, grain, ts)
    sums, total = found.sums, found.total
    dims = set(sums.loc[sums["label"].isin(labels), "segment_dim"])
    part = sums[sums["segment_dim"].isin(dims)]
    if len(total) != 1 or part.empty:
        return None
    sign = np.sign(float(total["observed"].iloc[0] - total["expected"].iloc[0]))
    if not found.total_z * sign >= _TOTAL_MOVED_Z:  # also when the total has no scores (NaN)
        return None
    ranked = _with_labels(
        attribute(total, part[["segment_dim", "segment_value", "observed", "expected"]], min_share=min_share)
    )
    return ranked[ranked["label"].isin(labels)].reset_index(drop=True)


def explain_total(
    anomalies: pd.DataFrame, metric: str, grain: str, ts: Iterable[pd.Timestamp], cause: str
) -> tuple[float, pd.DataFrame, float]:
    """What an incident's description reports: the cause's share of the total's deviation, the three
    best-ranked contributors (``label``, ``contribution_share``, ``relative_change``) and the total's own
    evidence (z), over every dimension of the metric's breakdown summed over ``ts``.
    """
    found = _breakdown(anomalies, metric, grain, ts)
    sums, total = found.sums, found.total
    breakdown = sums[sums["segment_dim"].ne(ALL)]
    if breakdown.empty:
        return float("nan"), pd.DataFrame(columns=["label", "contribution_share", "relative_change"]), found.total_z
    columns = ["segment_dim", "segment_value", "observed", "expected"]
    ranked = _with_labels(attribute(total if len(total) == 1 else None, breakdown[columns]))
    own = ranked.loc[ranked["label"].eq(cause), "contribution_share"]
    share = float(own.iloc[0]) if len(own) and pd.notna(own.iloc[0]) else float("nan")
    top = ranked.dropna(subset=["contribution_share", "relative_change"]).head(3)
    return share, top[["label", "contribution_share", "relative_change"]], found.total_z


# ------------------------------------------------------------------------------------------------------------
# the cause of an episode
# ------------------------------------------------------------------------------------------------------------


def _keys(members: pd.DataFrame) -> pd.Series:
    return members["metric"] + "|" + members["grain"]


def _is_concentrated(own: float, rest: float) -> bool:
    """A move (relative change ``own``) sits in its segment when the rest moved the same way by at most
    ``CONCENTRATION`` of it (the rest moving the other way, or not at all, is fine)."""
    if not math.isfinite(own):
        return True
    return bool(rest * np.sign(own) <= CONCENTRATION * abs(own))


def _rest_of_dimension(sums: pd.DataFrame, segment: Segment) -> tuple[float, float] | None:
    """(relative change of ``segment``, relative change of the rest of its dimension) in a breakdown."""
    dim = sums[sums["segment_dim"].eq(segment.dim)]
    own = dim[dim["segment_value"].astype(str).eq(str(segment.value))]
    if own.empty:
        return None
    o, e = float(own["observed"].sum()), float(own["expected"].sum())
    rest_o, rest_e = float(dim["observed"].sum()) - o, float(dim["expected"].sum()) - e
    if e <= 0 or rest_e <= 0:
        return None
    return o / e - 1.0, rest_o / rest_e - 1.0


def concentrated(members: pd.DataFrame, anomalies: pd.DataFrame, segment: Segment) -> bool | None:
    """Whether ``segment``'s move is concentrated in it rather than shared by the rest of its dimension.

    Judged on the metric and view with the most of ``members``' flagged points of the segment, summed over
    their timestamps: concentrated when the rest of the dimension changed by at most ``CONCENTRATION`` of the
    segment's relative change. None when it cannot be told (the overall metric, no breakdown).
    """
    if segment.is_overall:
        return None
    own = members[members["segment_dim"].eq(segment.dim) & members["segment_value"].astype(str).eq(str(segment.value))]
    if own.empty:
        return None
    keys = _keys(own)
    key = keys.value_counts().index[0]
    metric, grain = key.split("|")
    found = _breakdown(anomalies, metric, grain, own.loc[keys.eq(key), "ts"].unique())
    moves = _rest_of_dimension(found.sums, segment)
    if moves is None:
        return None
    return _is_concentrated(*moves)


def decide_cause(members: pd.DataFrame, anomalies: pd.DataFrame, roots: Sequence[Segment], min_share: float) -> Segment:
    """The one decision of an episode's cause (see the module docstring).

    ``members`` are the episode's flagged points, ``roots`` the segments the chain rule ended at, first
    flagged first. With at least two flagged segments, the contribution analysis on the metric and view with
    the most flagged points (ties: the first seen) whose total moved decides: its best-ranked flagged segment
    when that carries at least ``min_share`` of the total's deviation. Otherwise -- one segment, a total that
    never moved, or no segment carrying enough -- the first root: the most specific explanation of the runs
    flagged first.
    """
    candidates = sorted({label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)})
    candidates = [c for c in candidates if c != "overall"]
    if len(candidates) < 2:
        return roots[0]
    keys = _keys(members)
    counts = keys.value_counts(sort=False)
    for key in sorted(counts.index, key=lambda k: -counts[k]):
        metric, grain = key.split("|")
        ranked = shares(anomalies, metric, grain, members.loc[keys.eq(key), "ts"].unique(), candidates, min_share)
        if ranked is None:
            continue
        top = ranked.iloc[0]
        best = Segment.of(top["segment_dim"], top["segment_value"])
        if pd.notna(top["contribution_share"]) and top["contribution_share"] >= min_share:
            moves = _rest_of_dimension(
                _breakdown(anomalies, metric, grain, members.loc[keys.eq(key), "ts"].unique()).sums, best
            )
            if moves is None or _is_concentrated(*moves):
                return best
            if OVERALL in roots:  # a proportional slice of a move of the total: the total's incident
                return OVERALL
        return roots[0]
    return _largest_concentrated(members, anomalies, candidates) or roots[0]


def _largest_concentrated(members: pd.DataFrame, anomalies: pd.DataFrame, candidates: Sequence[str]) -> Segment | None:
    """Without a total to compare on (the total and the segments watched through different views: a dense total
    hourly, a sparse channel through a 6-hour sum), the flagged segment whose move is concentrated in it and
    largest (summed |observed - expected| of its flagged points), if any."""
    best: tuple[float, Segment] | None = None
    for text in candidates:
        dim, _, value = text.partition("=")
        segment = Segment(dim, value)
        if concentrated(members, anomalies, segment) is not True:
            continue
        own = members[members["segment_dim"].eq(dim) & members["segment_value"].astype(str).eq(value)]
        size = float((own["observed"] - own["expected"]).abs().sum())
        if best is None or size > best[0]:
            best = (size, segment)
    return None if best is None else best[1]


def deviations_overlap(members: pd.DataFrame, anomalies: pd.DataFrame, a: Segment, b: Segment) -> bool:
    """Whether segments ``a`` and ``b`` (of two dimensions) carry one deviation: on some metric and view of
    ``members``, over its flagged timestamps, both have a share of the moving total's deviation and the two add up
    to more than 1.2.
    """
    keys = _keys(members)
    for key in sorted(set(keys)):
        metric, grain = key.split("|")
        ranked = shares(anomalies, metric, grain, members.loc[keys.eq(key), "ts"].unique(), [a.label, b.label])
        if ranked is None or len(ranked) < 2 or ranked["contribution_share"].isna().any():
            continue
        if ranked["contribution_share"].sum() > _OVERLAP_SUM:
            return True
    return False


# ------------------------------------------------------------------------------------------------------------
# who an event's move hits: from the symptom (an event name) to the population it is concentrated in
# ------------------------------------------------------------------------------------------------------------

# Same hours of this many previous days are the expectation of an event's breakdown.
_BASELINE_DAYS = 7


@dataclass(frozen=True)
class Concentration:
    """The population segment an event-level symptom is concentrated in."""

    segment: Segment
    share: float  # of the event's deviation over the incident's hours
    relative_change: float  # of the event within the segment
    rest_change: float  # of the event in the rest of the segment's dimension


def _same_hours_before(hours: pd.DatetimeIndex, days: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sorted({h - pd.Timedelta(days=k) for h in hours for k in range(1, days + 1)}))


def concentration(
    event_segments: pd.DataFrame,
    event: str,
    hours: Iterable[pd.Timestamp],
    direction: int,
    min_share: float,
) -> Concentration | None:
    """Where the move of one event over ``hours`` sits in the population, if in one proper segment.

    ``event_segments`` is ``marts.event_segments_hourly`` (hour_at, event_name, segment_dim, segment_value,
    events). Expected per segment value: the mean of the same hours over the previous week (the mix of
    countries or platforms changes with the hour of day). A value is the cause when it carries at least
    ``min_share`` of the event's deviation in ``direction``, is a proper part of the population (expected
    below ``WHOLE_POPULATION`` of the event) and the rest of its dimension moved by at most half as much
    (relative): an error event rising on web only is a web incident; a tracking bug losing the event on every
    platform is the event's own. None when nothing is concentrated or the week before holds no data.
    """
    rows = event_segments[event_segments["event_name"].astype(str).eq(event)]
    hours = pd.DatetimeIndex(sorted(set(pd.to_datetime(list(hours)))))
    if rows.empty or hours.empty:
        return None
    stamps = pd.to_datetime(rows["hour_at"])
    before = _same_hours_before(hours, _BASELINE_DAYS)
    days_seen = max(min(_BASELINE_DAYS, int((hours.min() - stamps.min()) / pd.Timedelta(days=1))), 0)
    if days_seen == 0:
        return None
    key = ["segment_dim", "segment_value"]
    observed = rows[stamps.isin(hours)].groupby(key)["events"].sum()
    expected = rows[stamps.isin(before) & (stamps < hours.min())].groupby(key)["events"].sum() / days_seen
    both = pd.concat({"o": observed, "e": expected}, axis=1).fillna(0.0).astype(float)
    best: Concentration | None = None
    for dim, part in both.groupby(level="segment_dim", sort=True):
        total_o, total_e = float(part["o"].sum()), float(part["e"].sum())
        deviation = total_o - total_e
        if deviation * direction <= 0 or part.shape[0] < 2:
            continue
        for (_, value), row in part.iterrows():
            o, e = float(row["o"]), float(row["e"])
            share = (o - e) / deviation
            rest_o, rest_e = total_o - o, total_e - e
            own = o / e - 1.0 if e > 0 else math.inf
            rest = rest_o / rest_e - 1.0 if rest_e > 0 else (0.0 if rest_o == 0 else math.inf)
            if (
                share >= min_share
                and e < WHOLE_POPULATION * total_e
                and _is_concentrated(own, rest)
                and (best is None or share > best.share)
            ):
                best = Concentration(Segment.of(dim, value), share, own, rest)
    return best
