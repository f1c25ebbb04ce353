"""Series views over the metric marts: what the detector watches, one value per hourly batch.

The marts hold one row per hour (or day) x segment; the detector (:mod:`pintel.incidents.detector`) takes one
regularly sampled series. This module turns the first into many of the second, and owns the vocabulary every
later stage speaks: metrics, grains (``hour``, ``trailing_<w>h``, ``day``), segment labels and hourly batches.

1. **Long format** -- ``marts.activity_hourly`` gives hourly ``events``, ``active_users`` and ``signups``
   per segment (``all``, plan, platform, country, channel; events and active users also per event_name);
   ``marts.active_users_daily`` and ``marts.signups_daily`` give daily ``dau`` and ``signups``. Series that
   duplicate another are dropped (signups by event name; events / active users of the ``signed_up`` event,
   which *are* signups). A series starts at its first non-zero value: the marts write zeros since the
   first event for every segment value ever seen, and a segment that did not exist yet (a new event type)
   has no baseline to deviate from -- its launch is not an incident.
2. **Units** -- events come in bursts from one user (a session of 10-30 events), so an hourly event count
   varies like ``c`` times a Poisson count of users (``c`` = events per active user so far, per segment,
   from earlier hours only). Event series are detected in user units (divided by ``c``, Poisson variance)
   and reported back in events: the quasi-Poisson treatment of clustered counts. Without it, one user's
   session in a quiet hour of a small country is a "20-sigma" spike (about 300 false incidents in 90 days
   on a 1 000-user simulation, seed 5; 12 with the scaling, none once sparse series are handled as below).
3. **Views** -- one value per hourly batch, always causal:

   * *dense* series (at least ``sparse_below`` = 5 users an hour on average): the hourly value plus its
     trailing 2-hour sum. A 60 % loss of ~30 users an hour for a few hours scores -3 to -4 per hour (below
     the threshold) but adds up in the 2-hour sum: the multi-window idea of SRE burn-rate alerts;
   * *sparse* series (under 5 users an hour): only the trailing 6-hour sum, with a week-long level window
     -- hourly they are zeros and ones where a single user is a "spike", and a 4x signup burst of 3-5 an
     hour is within Poisson noise; summed over 6 hours it is not;
   * daily series as they are. A view whose mean is under ``min_mean`` per point is not watched at all.

4. **Detection** -- :func:`pintel.incidents.detect_frame` on every watched series; a prefix of the data
   gives the same scores (tested), so the verdict on a batch never changes later.

Batches are labelled by the hour they contain: an hourly point at 14:00 is batch 14:00; a trailing sum
ending at 14:00 is batch 14:00; a daily point is complete with the day's last hourly batch (23:00).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pintel.incidents.config import IncidentConfig
from pintel.incidents.detector import detect_frame

__all__ = [
    "ALL",
    "DAY",
    "HOUR",
    "OVERALL",
    "SERIES_COLUMNS",
    "Segment",
    "batch",
    "daily_long",
    "detect_metrics",
    "family",
    "grain_rank",
    "hourly_long",
    "informative",
    "label",
    "step",
    "window_hours",
]

ALL = "all"
HOUR = "hour"
DAY = "day"
_HOURLY_METRICS = ("events", "active_users", "signups")
# Series that duplicate another one: signups *are* the signed_up event, so signups by event name repeat the
# total, and the events / active users of event_name=signed_up repeat the signups metric (watched once, as
# signups, so that a signup burst is one incident and not two).
_EXCLUDED_DIMS = {"signups": {"event_name"}}
_EXCLUDED_SEGMENTS = {"events": {("event_name", "signed_up")}, "active_users": {("event_name", "signed_up")}}
KEY_SEP = "|"
# A segment holding at least this share of its metric's total is the population itself, not a part of it.
WHOLE_POPULATION = 0.98
# Metrics that add up over the values of every dimension (distinct-user counts do not: one user fires many
# event types), so a segment's share of the total's deviation is meaningful for them.
ADDITIVE = frozenset({"events", "signups"})
SERIES_COLUMNS = ["metric", "grain", "segment_dim", "segment_value"]
DETECTED_COLUMNS = [*SERIES_COLUMNS, "ts", "observed", "expected", "lower", "upper", "score", "is_anomaly"]


# ------------------------------------------------------------------------------------------------------------
# vocabulary: grains, batches, labels
# ------------------------------------------------------------------------------------------------------------


def step(grain: str) -> pd.Timedelta:
    return pd.Timedelta(days=1) if grain == DAY else pd.Timedelta(hours=1)


def family(grain: str) -> str:
    return DAY if grain == DAY else HOUR


def grain_rank(grain: str) -> tuple[int, int]:
    """hour < trailing_2h < trailing_6h < day: finer views describe an incident better."""
    if grain == HOUR:
        return (0, 0)
    if grain == DAY:
        return (2, 0)
    return (1, int(grain.removeprefix("trailing_").removesuffix("h") or 0))


def window_hours(grain: str) -> int:
    return grain_rank(grain)[1] if grain_rank(grain)[0] == 1 else 1


def batch(ts: pd.Series, grain: pd.Series) -> pd.Series:
    """Hourly batch that completes a point: the hour itself, or the last hour of a daily point."""
    return ts + pd.to_timedelta(np.where(grain.eq(DAY).to_numpy(), 23, 0), unit="h")


def label(dim: object, value: object) -> str:
    """``dim=value``, or ``overall`` for the unsegmented series (``segment_dim = 'all'`` in the marts)."""
    return "overall" if str(dim) == ALL else f"{dim}={value}"


@dataclass(frozen=True)
class Segment:
    """A segment as a cause: ``dim`` and ``value`` are None for the overall (unsegmented) metric.

    Carried as a value rather than re-parsed from its label, because segment values may contain ``=``.
    """

    dim: str | None
    value: str | None

    @classmethod
    def of(cls, dim: object, value: object) -> Segment:
        """The segment of a marts row or a run: ``all`` and None both mean overall."""
        if dim is None or str(dim) == ALL:
            return OVERALL
        return cls(str(dim), str(value))

    @property
    def label(self) -> str:
        return "overall" if self.dim is None else f"{self.dim}={self.value}"

    @property
    def is_overall(self) -> bool:
        return self.dim is None

    @property
    def sort_key(self) -> tuple[str, str]:
        """Order of causes in outputs: by dimension then value, the overall metric as ``("overall", "")``."""
        return ("overall", "") if self.dim is None else (self.dim, str(self.value))


OVERALL = Segment(None, None)


# ------------------------------------------------------------------------------------------------------------
# long format and views
# ------------------------------------------------------------------------------------------------------------


def _long(frame: pd.DataFrame, ts_col: str, metrics: dict[str, str], grain: str) -> pd.DataFrame:
    needed = {ts_col, "segment_dim", "segment_value", *metrics}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"metric mart is missing columns {missing}")
    pieces = []
    for column, metric in metrics.items():
        part = frame[[ts_col, "segment_dim", "segment_value", column]].rename(columns={ts_col: "ts", column: "value"})
        part = part[~part["segment_dim"].isin(_EXCLUDED_DIMS.get(metric, set()))]
        for dim, value in _EXCLUDED_SEGMENTS.get(metric, set()):
            part = part[~(part["segment_dim"].eq(dim) & part["segment_value"].eq(value))]
        pieces.append(part.assign(metric=metric, grain=grain))
    out = pd.concat(pieces, ignore_index=True)
    out["ts"] = pd.to_datetime(out["ts"])
    out["value"] = pd.to_numeric(out["value"]).astype(float)
    out["segment_dim"] = out["segment_dim"].astype(str)
    out["segment_value"] = out["segment_value"].astype(str)
    return out[[*SERIES_COLUMNS, "ts", "value"]]


def hourly_long(activity_hourly: pd.DataFrame) -> pd.DataFrame:
    """``marts.activity_hourly`` as one row per (metric, grain='hour', segment_dim, segment_value, ts, value)."""
    return _long(activity_hourly, "hour_at", {m: m for m in _HOURLY_METRICS}, HOUR)


def daily_long(active_users_daily: pd.DataFrame | None, signups_daily: pd.DataFrame | None) -> pd.DataFrame:
    """Daily ``dau`` (``marts.active_users_daily``) and ``signups`` (``marts.signups_daily``) in long format."""
    pieces = []
    if active_users_daily is not None:
        pieces.append(_long(active_users_daily, "activity_date", {"dau": "dau"}, DAY))
    if signups_daily is not None:
        pieces.append(_long(signups_daily, "signup_date", {"signups": "signups"}, DAY))
    if not pieces:
        return pd.DataFrame(columns=[*SERIES_COLUMNS, "ts", "value"])
    return pd.concat(pieces, ignore_index=True)


def informative(long: pd.DataFrame, unwatched_events: Iterable[str] = ()) -> pd.DataFrame:
    """The series that can say something about a cause: the totals and the proper segments of real metrics.

    * A dimension with a single value (``channel=unknown`` on an export without identify traits) splits
      nothing: its one segment is the total again, so it is dropped, as is any segment that holds at least
      ``WHOLE_POPULATION`` of its metric's total (the population, not a part of it). Otherwise the segment
      is flagged with the total and, being "smaller", named as the cause of everything.
    * ``unwatched_events`` (the event names of the taxonomy's instrumentation and experiment categories, e.g.
      ``feature_flag_called``) are not product behaviour: they record that the tracking or a flag evaluation
      ran, so a rollout multiplies them by design. Their event_name segments are not watched.

    Decided on the data at hand (whole metric x grain), like the sparse/dense split of the views.
    """
    if long.empty:
        return long
    unwatched = {str(e) for e in unwatched_events}
    out = long
    if unwatched:
        out = out[~(out["segment_dim"].eq("event_name") & out["segment_value"].isin(unwatched))]
    group = ["metric", "grain"]
    values = out.groupby([*group, "segment_dim"], sort=False)["segment_value"].transform("nunique")
    segment_sum = out.groupby([*group, "segment_dim", "segment_value"], sort=False)["value"].transform("sum")
    totals = out[out["segment_dim"].eq(ALL)].groupby(group, sort=False)["value"].sum().rename("_total")
    total_sum = out[group].merge(totals, left_on=group, right_index=True, how="left")["_total"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = segment_sum.to_numpy() / total_sum
    whole = np.nan_to_num(share, nan=0.0) >= WHOLE_POPULATION
    keep = out["segment_dim"].eq(ALL).to_numpy() | ((values.to_numpy() > 1) & ~whole)
    return out[keep].reset_index(drop=True)


def _trim_leading_zeros(long: pd.DataFrame) -> pd.DataFrame:
    """Each series starts at its first non-zero value; all-zero series are dropped."""
    long = long.sort_values([*SERIES_COLUMNS, "ts"], kind="mergesort")
    started = long.groupby(SERIES_COLUMNS, sort=False)["value"].transform(lambda s: s.fillna(0).ne(0).cummax())
    return long[started.astype(bool)].reset_index(drop=True)


def _cluster_sizes(long: pd.DataFrame) -> pd.DataFrame:
    """Events per active user-hour of each hourly segment so far: the clustering of the events metric.

    Events arrive in bursts from one user (a session of 10-30 events), so an hourly event count varies like
    ``c`` times a Poisson count of users, ``c`` being the events per active user: its variance is about
    ``c`` times its mean, not its mean. ``c`` at hour t is the ratio of the segment's events to its active
    user-hours over the hours *before* t (causal, like the detector), at least 1. Columns segment_dim,
    segment_value, ts, unit.
    """
    hourly = long[long["grain"].eq(HOUR) & long["metric"].isin(["events", "active_users"])]
    cols = ["segment_dim", "segment_value", "ts", "unit"]
    if hourly.empty:
        return pd.DataFrame(columns=cols)
    wide = hourly.pivot_table(
        index=["segment_dim", "segment_value", "ts"], columns="metric", values="value", aggfunc="sum"
    ).reindex(columns=["events", "active_users"])
    wide = wide.astype(float).fillna(0.0).sort_index()
    by_segment = wide.groupby(level=["segment_dim", "segment_value"], sort=False)
    past = by_segment.cumsum() - wide  # strictly before each hour
    ratio = (past["events"] / past["active_users"]).where(past["active_users"] > 0)
    ratio = ratio.groupby(level=["segment_dim", "segment_value"], sort=False).bfill()  # first hours: next known
    return ratio.fillna(1.0).clip(lower=1.0).rename("unit").reset_index()[cols]


def _in_user_units(long: pd.DataFrame) -> pd.DataFrame:
    """Add ``unit`` (1, or the events per active user so far for hourly events) and divide ``value`` by it."""
    long = long.assign(unit=1.0)
    is_events = long["metric"].eq("events") & long["grain"].eq(HOUR)
    if is_events.any():
        units = long.loc[is_events, ["segment_dim", "segment_value", "ts"]].merge(
            _cluster_sizes(long), on=["segment_dim", "segment_value", "ts"], how="left"
        )["unit"]
        long.loc[is_events, "unit"] = units.astype(float).fillna(1.0).to_numpy()
    return long.assign(raw=long["value"], value=long["value"] / long["unit"])


def _views(long: pd.DataFrame, cfg: IncidentConfig) -> pd.DataFrame:
    """The series actually watched (column ``sparse`` marks views of sparse series).

    Dense hourly series: the hourly view plus trailing sums over ``dense_windows``. Sparse hourly series
    (mean below ``sparse_below`` users per hour): trailing sums over ``sparse_windows`` only -- hourly they
    are mostly zeros and ones, where a single user is a "spike". Daily series as they are. Views whose mean
    per point is below ``min_mean`` are dropped.
    """
    mean = long.groupby(SERIES_COLUMNS, sort=False)["value"].transform("mean")
    hourly = long["grain"].eq(HOUR)
    sparse = hourly & mean.lt(cfg.sparse_below)
    pieces = [long[~sparse].assign(sparse=False, _mean=mean[~sparse])]
    for windows, part, is_sparse in (
        (cfg.dense_windows, long[hourly & ~sparse], False),
        (cfg.sparse_windows, long[sparse], True),
    ):
        for window in sorted(set(windows)):
            if window <= 1 or part.empty:
                continue
            grouped = part.groupby(SERIES_COLUMNS, sort=False)
            summed = grouped["value"].transform(lambda s, w=window: s.rolling(w, min_periods=w).sum())
            raw = grouped["raw"].transform(lambda s, w=window: s.rolling(w, min_periods=w).sum())
            view = part.assign(
                value=summed, raw=raw, grain=f"trailing_{window}h", sparse=is_sparse, _mean=mean * window
            )
            pieces.append(view.dropna(subset=["value"]))
    out = pd.concat(pieces, ignore_index=True)
    return out[out["_mean"] >= cfg.min_mean].drop(columns="_mean").reset_index(drop=True)


def detect_metrics(
    long: pd.DataFrame, config: IncidentConfig | None = None, unwatched_events: Iterable[str] = ()
) -> pd.DataFrame:
    """Detector output for every watched series (and view) of a long metric frame, one row per point.

    Event counts are detected in *user units* (divided by the segment's events per active user, with
    Poisson variance): the quasi-Poisson treatment of clustered counts. Otherwise one user's 20-event
    session in a quiet hour of a small segment is a "20-sigma" spike. Values and bands are reported in
    events.

    Only :func:`informative` series are watched (``unwatched_events``: event names that are not metrics).

    Columns: metric, grain, segment_dim, segment_value, ts, observed, expected, lower, upper, score, is_anomaly.
    """
    cfg = config or IncidentConfig()
    cols = [*SERIES_COLUMNS, "ts", "observed", "expected", "lower", "upper", "score", "is_anomaly"]
    long = _trim_leading_zeros(informative(long, unwatched_events))
    if long.empty:
        return pd.DataFrame(columns=cols)
    frame = _views(_in_user_units(long), cfg)
    if frame.empty:
        return pd.DataFrame(columns=cols)
    scaled = (frame["metric"].eq("events") & frame["grain"].ne(DAY)).to_numpy()  # detected in user units
    long_level = (frame["sparse"] & frame["grain"].ne(DAY)).to_numpy()
    pieces = []
    for (is_scaled, is_sparse), part in frame.groupby([scaled, long_level], sort=True):
        options: dict[str, object] = {"threshold": cfg.threshold}
        if is_sparse and cfg.view_level_window:
            options["level_window"] = cfg.view_level_window
        if is_scaled:
            options["variance"] = "poisson"  # user units are not integers, but they are counts
        out = detect_frame(part, group_cols=SERIES_COLUMNS, **options)
        if is_scaled:  # back to events: the unit at ts for the model, the exact count for the observation
            back = out[[*SERIES_COLUMNS, "ts"]].merge(
                part[[*SERIES_COLUMNS, "ts", "unit", "raw"]], on=[*SERIES_COLUMNS, "ts"], how="left"
            )
            for col in ("expected", "lower", "upper"):
                out[col] = out[col].to_numpy() * back["unit"].to_numpy(dtype=float)
            out["observed"] = back["raw"].to_numpy(dtype=float)
        pieces.append(out)
    out = pd.concat(pieces, ignore_index=True)
    out.attrs = {}
    return out[cols]
