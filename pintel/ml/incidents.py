"""Metric incidents: the metric marts in long format -> anomalies per metric x segment -> root cause -> incidents.

This module is the glue between the warehouse and :mod:`pintel.ml.anomaly`, which owns the detector
(``detect``: causal, seasonal, robust), the contribution analysis (``attribute``) and the grouping
(``group_incidents``); read its docstring first. It is pure pandas: the dbt Python models
``metric_anomalies`` and ``metric_incidents`` call :func:`metric_anomalies` and :func:`metric_incidents`.

Pipeline
--------

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

4. **Detection** -- :func:`pintel.ml.anomaly.detect_frame` on every watched series; a prefix of the data
   gives the same scores (tested), so the verdict on a batch never changes later.
5. **Anomalies table** -- the flagged points, plus what the incident step needs and nothing more: every
   segment of the same metric and view at each flagged timestamp (the breakdown for contribution analysis)
   and a context window around each flagged point of the flagged series (incident span, chart).
6. **Incidents**, one per *cause* (not one alert per metric x segment x hour):

   * :func:`pintel.ml.anomaly.group_incidents` per grain family (hourly views; daily): a run is explained by
     a smaller segment of another dimension carrying half of its deviation, runs of one cause merge across
     metrics -- the overall drop, the country=US drop and the android drop of events and of active users
     are one incident caused by platform=android;
   * :func:`_reattribute` re-picks the cause among the flagged segments by contribution analysis when a
     proportional slice won by chance; :func:`_merge_concurrent` merges concurrent groups whose causes
     cannot be disjoint (their shares of the total's deviation add up to more than 1.2); :func:`_merge_groups`
     merges the views and grains of one cause and drops the rebound after a long incident;
   * **confirmation** (:func:`_confirmation`) -- an isolated blip of one segment in one hour is the classic
     false page: an incident is *raised* once it has two pieces of evidence (two segments, or one segment in
     two batches -- not the same hour seen again through a trailing sum) or one point with
     ``|score| >= confirm_score``. ``first_detected_batch`` is the first hourly batch with a flagged point of
     the incident, ``raised_batch`` the batch that raised it. Unconfirmed blips stay in the anomalies table;
   * **span** -- ``start``/``end`` extend the cause's flagged run over adjacent points deviating the same way
     by at least ``span_score`` (hysteresis), so a 4-hour outage whose middle hour scored -2.6 reads as 4
     hours; for a trailing view the end is the run's end less the window;
   * **attribution** -- :func:`pintel.ml.anomaly.attribute` on the breakdown of an additive metric (events or
     signups when involved) summed over the flagged hours: ``explained_share`` is the cause's share of the
     total's deviation, ``top_contributors`` the best-ranked values; a **summary** in plain language and a
     **chart** of the cause's series (band, flagged points) under ``$PINTEL_REPORTS/incidents/<id>.png``.

Batches are labelled by the hour they contain: an hourly point at 14:00 is batch 14:00; a trailing sum
ending at 14:00 is batch 14:00; a daily point is complete with the day's last hourly batch (23:00).

The defaults (views, thresholds, confirmation) were chosen on simulated warehouses (seeds 7, 11 and 23 of
5 000 users x 90 days) from the reasoning above, never from the planted incidents' shapes or dates; the
sparse/dense split uses each series' mean over the data at hand, so a series crossing 5 users an hour
changes views. Measured figures: ``benchmarks/bench_incidents.py``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pintel.ml.anomaly import attribute, detect_frame, group_incidents, severity
from pintel.ml.charts import plot_anomalies

__all__ = [
    "ANOMALY_COLUMNS",
    "INCIDENT_COLUMNS",
    "IncidentConfig",
    "daily_long",
    "detect_metrics",
    "hourly_long",
    "metric_anomalies",
    "metric_incidents",
    "reports_dir",
    "select_anomalies",
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
_METRIC_LABEL = {"active_users": "active users", "dau": "daily active users"}
_KEY_SEP = "|"
# Metrics that add up over the values of every dimension (distinct-user counts do not: one user fires many
# event types), so a segment's share of the total's deviation is meaningful for them.
_ADDITIVE = frozenset({"events", "signups"})

SERIES_COLUMNS = ["metric", "grain", "segment_dim", "segment_value"]
ANOMALY_COLUMNS = [
    *SERIES_COLUMNS,
    "ts",
    "observed",
    "expected",
    "lower",
    "upper",
    "score",
    "is_anomaly",
    "severity",
]
INCIDENT_COLUMNS = [
    "incident_id",
    "start",
    "end",
    "first_detected_batch",
    "raised_batch",
    "metrics",
    "grains",
    "cause",
    "cause_dim",
    "cause_value",
    "direction",
    "peak_metric",
    "peak_score",
    "relative_change",
    "explained_share",
    "severity",
    "top_contributors",
    "segments",
    "n_points",
    "n_series",
    "summary",
    "chart_path",
]


@dataclass(frozen=True)
class IncidentConfig:
    """Knobs of the incident pipeline (see the module docstring for how the defaults were chosen).

    Attributes:
        threshold: detector threshold on ``|score|`` (see :func:`pintel.ml.anomaly.detect`).
        sparse_below: series carried by fewer users than this per hour on average (for events: the
            segment's active users; otherwise the series' own mean) are *sparse*.
        dense_windows: trailing-sum windows (hours) added to the hourly view of dense series.
        sparse_windows: trailing-sum windows replacing the hourly view of sparse series.
        min_mean: a view whose mean per point (in user units) is below this is not watched at all: a few
            events a day cannot carry evidence at any hourly view.
        view_level_window: level window (points) of the sparse series' views; a week, because the default
            (two days) holds too few users to pin a sparse baseline down.
        min_points: pieces of evidence an incident needs to be raised (see :func:`_confirmation`).
        confirm_score: a single point at least this extreme raises an incident on its own.
        span_score: hysteresis threshold extending the cause's flagged run to its neighbours.
        min_share: share of a run's deviation a smaller segment must carry to be its cause.
        recovery_hours / rebound_after_hours: a weaker opposite move of the same cause starting within
            ``recovery_hours`` after an incident that lasted ``rebound_after_hours`` or more is its rebound,
            not a new incident (see :func:`_merge_groups`).
        context_before / context_after: points kept around flagged points of flagged series.
        daily: also watch the daily marts (``dau``, daily ``signups``).
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


def reports_dir() -> Path:
    """Reports folder: ``$PINTEL_REPORTS`` (default ``reports``), absolute."""
    return Path(os.environ.get("PINTEL_REPORTS", "reports")).resolve()


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


def detect_metrics(long: pd.DataFrame, config: IncidentConfig | None = None) -> pd.DataFrame:
    """Detector output for every watched series (and view) of a long metric frame, one row per point.

    Event counts are detected in *user units* (divided by the segment's events per active user, with
    Poisson variance): the quasi-Poisson treatment of clustered counts. Otherwise one user's 20-event
    session in a quiet hour of a small segment is a "20-sigma" spike. Values and bands are reported in
    events.

    Columns: metric, grain, segment_dim, segment_value, ts, observed, expected, lower, upper, score, is_anomaly.
    """
    cfg = config or IncidentConfig()
    cols = [*SERIES_COLUMNS, "ts", "observed", "expected", "lower", "upper", "score", "is_anomaly"]
    long = _trim_leading_zeros(long)
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


# ------------------------------------------------------------------------------------------------------------
# anomalies table
# ------------------------------------------------------------------------------------------------------------


def _step(grain: str) -> pd.Timedelta:
    return pd.Timedelta(days=1) if grain == DAY else pd.Timedelta(hours=1)


def select_anomalies(detected: pd.DataFrame, config: IncidentConfig | None = None) -> pd.DataFrame:
    """Flagged points + every segment of the same metric and grain at flagged timestamps + context windows.

    ``severity`` is set on flagged points only (critical / major / minor, as for incidents).
    """
    cfg = config or IncidentConfig()
    if detected.empty:
        return pd.DataFrame(columns=ANOMALY_COLUMNS)
    det = detected.reset_index(drop=True)
    flagged = det["is_anomaly"].astype(bool)
    keep = flagged.copy()
    # breakdown rows: all series of a (metric, grain) at its flagged timestamps
    hits = det.loc[flagged, ["metric", "grain", "ts"]].drop_duplicates()
    at_hits = det[["metric", "grain", "ts"]].merge(hits.assign(_hit=True), how="left")["_hit"].notna().to_numpy()
    keep |= at_hits
    # context: a window around every flagged point of the flagged series
    series_id = det.groupby(SERIES_COLUMNS, sort=False).ngroup()
    order = det.assign(_sid=series_id).sort_values(["_sid", "ts"], kind="mergesort").index
    pos = pd.Series(np.arange(len(det)), index=order).reindex(det.index).to_numpy()
    sid = series_id.to_numpy()
    for i in np.flatnonzero(flagged.to_numpy()):
        lo, hi = pos[i] - cfg.context_before, pos[i] + cfg.context_after
        rows = order[max(lo, 0) : hi + 1]
        rows = rows[sid[rows] == sid[i]]
        keep.loc[rows] = True
    out = det[keep.to_numpy()].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = out["observed"] / out["expected"] - 1.0
    out["severity"] = [
        severity(float(s), float(r)) if f else None
        for s, r, f in zip(out["score"], rel.fillna(np.nan), out["is_anomaly"].astype(bool), strict=True)
    ]
    out["is_anomaly"] = out["is_anomaly"].astype(bool)
    return out.sort_values([*SERIES_COLUMNS, "ts"], kind="mergesort").reset_index(drop=True)[ANOMALY_COLUMNS]


def metric_anomalies(
    activity_hourly: pd.DataFrame,
    active_users_daily: pd.DataFrame | None = None,
    signups_daily: pd.DataFrame | None = None,
    config: IncidentConfig | None = None,
) -> pd.DataFrame:
    """The ``metric_anomalies`` model: detection over the hourly (and daily) marts, flagged points + context."""
    cfg = config or IncidentConfig()
    long = hourly_long(activity_hourly)
    daily = daily_long(active_users_daily, signups_daily) if cfg.daily else None
    if daily is not None and not daily.empty:
        long = pd.concat([long, daily], ignore_index=True)
    return select_anomalies(detect_metrics(long, cfg), cfg)


# ------------------------------------------------------------------------------------------------------------
# incidents
# ------------------------------------------------------------------------------------------------------------


def _family(grain: str) -> str:
    return DAY if grain == DAY else HOUR


def _grain_rank(grain: str) -> tuple[int, int]:
    """hour < trailing_2h < trailing_6h < day: finer views describe an incident better."""
    if grain == HOUR:
        return (0, 0)
    if grain == DAY:
        return (2, 0)
    return (1, int(grain.removeprefix("trailing_").removesuffix("h") or 0))


def _window_hours(grain: str) -> int:
    return _grain_rank(grain)[1] if _grain_rank(grain)[0] == 1 else 1


def _batch(ts: pd.Series, grain: pd.Series) -> pd.Series:
    """Hourly batch that completes a point: the hour itself, or the last hour of a daily point."""
    return ts + pd.to_timedelta(np.where(grain.eq(DAY).to_numpy(), 23, 0), unit="h")


def _label(dim: object, value: object) -> str:
    return "overall" if str(dim) == ALL else f"{dim}={value}"


def _metric_text(metric: str, grain: str) -> str:
    name = _METRIC_LABEL.get(metric, metric)
    if grain.startswith("trailing_"):
        return f"{name} (trailing {_window_hours(grain)} h sum)"
    if grain == DAY:
        return f"daily {name}" if metric != "dau" else name
    return name


@dataclass
class _Group:
    """Flagged points of one incident in the making (one cause, one direction)."""

    incident_id: str
    cause: str
    cause_dim: str | None
    cause_value: str | None
    direction: str
    members: pd.DataFrame

    @property
    def first_batch(self) -> pd.Timestamp:
        return _batch(self.members["ts"], self.members["grain"]).min()

    def covered(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Hours the flagged points speak about: a trailing-w sum at t covers [t-w+1, t], a day its 24 hours."""
        ts, grain = self.members["ts"], self.members["grain"]
        windows = pd.to_timedelta([_window_hours(g) - 1 for g in grain], unit="h")
        lo = (ts - windows.to_numpy()).min()
        hi = _batch(ts, grain).max()
        return lo, hi


def _grouped(flagged: pd.DataFrame, family: str, cfg: IncidentConfig) -> list[_Group]:
    """group_incidents on one grain family (hourly views, or daily): one group per cause and time cluster."""
    rows = flagged[flagged["grain"].map(_family).eq(family)]
    if rows.empty:
        return []
    gin = rows.assign(
        metric=rows["metric"] + _KEY_SEP + rows["grain"],
        segment_dim=rows["segment_dim"].where(rows["segment_dim"].ne(ALL), None),
        segment_value=rows["segment_value"].where(rows["segment_dim"].ne(ALL), None),
    )
    groups = group_incidents(gin, max_gap=3 * _step(family), min_share=cfg.min_share)
    label = np.asarray([_label(d, v) for d, v in zip(rows["segment_dim"], rows["segment_value"], strict=True)])
    key = (rows["metric"] + _KEY_SEP + rows["grain"]).to_numpy()
    taken = np.zeros(len(rows), dtype=bool)
    out = []
    for _, inc in groups.iterrows():
        member = (
            ~taken
            & np.isin(key, str(inc["metrics"]).split(","))
            & np.isin(label, str(inc["segments"]).split(","))
            & rows["ts"].between(inc["start"], inc["end"]).to_numpy()
        )
        taken |= member
        overall = inc["cause"] == "overall"
        out.append(
            _Group(
                incident_id=str(inc["incident_id"]),
                cause=str(inc["cause"]),
                cause_dim=None if overall else str(inc["cause_dim"]),
                cause_value=None if overall else str(inc["cause_value"]),
                direction=str(inc["direction"]),
                members=rows[member],
            )
        )
    return out


def _merge_groups(groups: list[_Group], gap: pd.Timedelta, recovery: pd.Timedelta, min_hours: int) -> list[_Group]:
    """Merge groups of one cause and direction whose covered hours overlap or are within ``gap``; drop rebounds.

    Views of one incident (hourly, trailing sums, daily) are grouped separately and lag each other; this
    makes them one incident. The id is that of the group flagged first, so it does not change when a
    coarser view or the daily point joins later.

    Rebounds: when an incident lasted ``min_hours`` or more, the detector's level (a median over the last two
    days) has partly absorbed it, so the return to normal looks like the opposite anomaly for a while. A
    weaker group of the same cause in the opposite direction starting after such an incident ends and
    within ``recovery`` of it is that rebound, not an incident (its points stay in the anomalies table).
    """
    merged: list[_Group] = []
    for group in sorted(groups, key=lambda g: (g.cause, g.direction, g.covered()[0])):
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.cause, last.direction) == (group.cause, group.direction)
            and group.covered()[0] <= last.covered()[1] + gap
        ):
            first = last if last.first_batch <= group.first_batch else group
            last.incident_id = first.incident_id
            last.members = pd.concat([last.members, group.members])
        else:
            merged.append(group)
    kept = []
    for group in merged:
        start = group.covered()[0]
        peak = group.members["score"].abs().max()
        rebound = any(
            other.cause == group.cause
            and other.direction != group.direction
            and other.covered()[1] - other.covered()[0] >= pd.Timedelta(hours=min_hours)
            and other.covered()[1] < start <= other.covered()[1] + recovery
            and other.members["score"].abs().max() > peak
            for other in merged
        )
        if not rebound:
            kept.append(group)
    return kept


def _shares(
    anomalies: pd.DataFrame, key: str, ts: Iterable[pd.Timestamp], labels: list[str], min_share: float = 0.1
) -> pd.DataFrame | None:
    """Contribution analysis of one metric@grain over timestamps, restricted to the given segment labels.

    None when the total of that metric is missing or did not itself move (its scores summed over the
    timestamps, / sqrt(n), below 2 in the direction of its deviation).
    """
    metric, grain = key.split(_KEY_SEP)
    rows = anomalies[
        anomalies["metric"].eq(metric) & anomalies["grain"].eq(grain) & anomalies["ts"].isin(list(ts))
    ].dropna(subset=["expected"])
    sums = rows.groupby(["segment_dim", "segment_value"], as_index=False)[["observed", "expected"]].sum()
    sums["label"] = [_label(d, v) for d, v in zip(sums["segment_dim"], sums["segment_value"], strict=True)]
    total = sums[sums["segment_dim"].eq(ALL)]
    dims = set(sums.loc[sums["label"].isin(labels), "segment_dim"])
    part = sums[sums["segment_dim"].isin(dims)]  # whole dimensions: the surprise compares shares within one
    if len(total) != 1 or part.empty:
        return None
    # shares of a total that did not move are noise: require the total's own scores to agree (z >= 2)
    scores = rows.loc[rows["segment_dim"].eq(ALL), "score"].dropna()
    z = scores.sum() / math.sqrt(len(scores)) if len(scores) else 0.0
    if z * np.sign(float(total["observed"].iloc[0] - total["expected"].iloc[0])) < 2.0:
        return None
    ranked = attribute(total, part[["segment_dim", "segment_value", "observed", "expected"]], min_share=min_share)
    ranked["label"] = [_label(d, v) for d, v in zip(ranked["segment_dim"], ranked["segment_value"], strict=True)]
    return ranked[ranked["label"].isin(labels)].reset_index(drop=True)


def _reattribute(group: _Group, anomalies: pd.DataFrame, cfg: IncidentConfig) -> None:
    """Re-pick the cause among the group's flagged segments by contribution analysis on the total.

    group_incidents points a run at the *smallest* segment carrying half of its deviation. With sparse
    counts a proportional slice reaches half by chance (android's signups during a paid-social burst, whose
    expected count happened to be tiny) and then "explains" the real cause. Among the flagged segments that
    carry at least ``min_share`` of the total's deviation, :func:`pintel.ml.anomaly.attribute` prefers the
    one whose share of the metric moved most (Jensen-Shannon surprise): the concentrated cause, not the
    slice that moved with it. Evaluated on the metric and view with the most flagged points.
    """
    members = group.members
    labels = sorted({_label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)})
    labels = [lab for lab in labels if lab != "overall"]
    if len(labels) < 2:
        return
    keys = members["metric"] + _KEY_SEP + members["grain"]
    for key in keys.value_counts().index:
        ranked = _shares(anomalies, key, members.loc[keys.eq(key), "ts"].unique(), labels, cfg.min_share)
        if ranked is None:
            continue
        top = ranked.iloc[0]
        if pd.notna(top["contribution_share"]) and top["contribution_share"] >= cfg.min_share:
            if top["label"] != group.cause:
                group.cause = str(top["label"])
                group.cause_dim, group.cause_value = str(top["segment_dim"]), str(top["segment_value"])
                first = members.loc[_batch(members["ts"], members["grain"]).idxmin(), "ts"]
                digest = hashlib.sha1(f"{pd.Timestamp(first).isoformat()}|{group.cause}".encode()).hexdigest()
                group.incident_id = digest[:12]
            return


def _merge_concurrent(groups: list[_Group], anomalies: pd.DataFrame, gap: pd.Timedelta) -> list[_Group]:
    """Merge concurrent groups that are one incident seen through two dimensions.

    group_incidents picks, among the segments that carry half of a run's deviation, the *smallest*; with
    sparse counts a proportional slice can reach half by chance (android getting 54 % of a paid-social
    signup burst) and then two incidents with different causes are raised for one event. Two disjoint sets
    of users cannot each carry more than half of the total's deviation, so when the two causes' shares of
    the total (same metric and view, over the flagged hours of either) add up to more than 1.2, their
    deviations overlap: they are merged, and the cause is the better explanation by
    :func:`pintel.ml.anomaly.attribute` (share, then surprise: the segment whose share of the metric moved
    most, not the slice that merely moved with it).
    """
    groups = list(groups)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                if a.direction != b.direction or None in (a.cause_dim, b.cause_dim) or a.cause_dim == b.cause_dim:
                    continue
                (a0, a1), (b0, b1) = a.covered(), b.covered()
                if not (a0 <= b1 + gap and b0 <= a1 + gap):
                    continue
                both = pd.concat([a.members, b.members])
                keys = both["metric"] + _KEY_SEP + both["grain"]
                winner = None
                for key in sorted(set(keys)):
                    ranked = _shares(anomalies, key, both.loc[keys.eq(key), "ts"].unique(), [a.cause, b.cause])
                    if ranked is None or ranked["contribution_share"].isna().any():
                        continue
                    if ranked["contribution_share"].sum() > 1.2:
                        winner = str(ranked["label"].iloc[0])
                        break
                if winner is None:
                    continue
                keep, drop = (a, b) if winner == a.cause else (b, a)
                keep.members = both
                groups.remove(drop)
                merged = True
                break
            if merged:
                break
    return groups


def _confirmation(members: pd.DataFrame, cfg: IncidentConfig) -> pd.Timestamp | None:
    """First batch at which the incident has ``min_points`` pieces of evidence or one point past confirm_score.

    A piece of evidence is one segment flagged in one hourly batch, counted once however many metrics or
    views flag it (events and active users of a segment in one hour are one observation seen twice). A
    trailing-sum point adds nothing when its window holds an hour already counted from a finer view of the
    same segment (a one-hour blip also lifts the 2-hour sum of the next batch; that is not persistence).
    Two pieces = two segments, or one segment in two batches.
    """
    labels = [_label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)]
    windows = [_window_hours(g) for g in members["grain"]]
    frame = pd.DataFrame(
        {
            "batch": _batch(members["ts"], members["grain"]).to_numpy(),
            "window": windows,
            "label": labels,
            "strong": members["score"].abs().ge(cfg.confirm_score).to_numpy(),
        }
    ).sort_values(["batch", "window"], kind="mergesort")
    counted: dict[str, list[tuple[pd.Timestamp, int]]] = {}
    new = []
    for b, w, label in zip(frame["batch"], frame["window"], frame["label"], strict=True):
        seen = counted.setdefault(label, [])
        lo = b - pd.Timedelta(hours=w - 1)
        fresh = all(sb != b for sb, _ in seen) and not any(sw < w and lo <= sb <= b for sb, sw in seen)
        if fresh:
            seen.append((b, w))
        new.append(fresh)
    frame["new"] = new
    per_batch = frame.groupby("batch").agg(n=("new", "sum"), strong=("strong", "any"))
    ok = per_batch["n"].cumsum().ge(cfg.min_points) | per_batch["strong"]
    return per_batch.index[ok.to_numpy()][0] if ok.any() else None


def _series(anomalies: pd.DataFrame, metric: str, grain: str, dim: str, value: str) -> pd.DataFrame:
    sel = (
        anomalies["metric"].eq(metric)
        & anomalies["grain"].eq(grain)
        & anomalies["segment_dim"].eq(dim)
        & anomalies["segment_value"].eq(value)
    )
    return anomalies[sel].sort_values("ts").set_index("ts")


def _extended_run(
    series: pd.DataFrame, flagged_ts: Iterable[pd.Timestamp], sign: float, step: pd.Timedelta, cfg: IncidentConfig
) -> pd.DataFrame:
    """Flagged points of one series plus adjacent same-direction points with |score| >= span_score."""
    scores = (series["score"] * sign).fillna(-np.inf).to_numpy()
    index = series.index
    inside = index.isin(list(flagged_ts))
    adjacent = np.r_[False, (index[1:] - index[:-1]) == step]  # adjacent[i]: point i follows point i-1
    for i in np.flatnonzero(inside):
        j = i - 1
        while j >= 0 and adjacent[j + 1] and scores[j] >= cfg.span_score:
            inside[j] = True
            j -= 1
        j = i + 1
        while j < len(series) and adjacent[j] and scores[j] >= cfg.span_score:
            inside[j] = True
            j += 1
    return series[inside]


def _own_rows(group: _Group, members: pd.DataFrame) -> pd.DataFrame:
    """Members on the cause's own series."""
    if group.cause_dim is None:
        return members[members["segment_dim"].eq(ALL)]
    return members[members["segment_dim"].eq(group.cause_dim) & members["segment_value"].eq(group.cause_value)]


def _pick(pool: pd.DataFrame, additive_first: bool) -> tuple[str, str]:
    """(metric, grain) to describe: finest grain, then largest |score| (additive metrics first if asked)."""
    ranked = pool.assign(
        _m=~pool["metric"].isin(_ADDITIVE) if additive_first else False,
        _g=pool["grain"].map(_grain_rank),
        _a=-pool["score"].abs(),
    ).sort_values(["_m", "_g", "_a"], kind="mergesort")
    top = ranked.iloc[0]
    return str(top["metric"]), str(top["grain"])


def _attribution(
    anomalies: pd.DataFrame, metric: str, grain: str, ts: Iterable[pd.Timestamp], cause: str
) -> tuple[float, str, float]:
    """Contribution analysis of the metric's breakdown summed over the flagged timestamps.

    Returns the cause's share of the total's deviation, the top contributors as text and the total's own
    evidence (its scores summed over the timestamps / sqrt(n)): a share of a total that did not move is noise.
    """
    rows = anomalies[
        anomalies["metric"].eq(metric) & anomalies["grain"].eq(grain) & anomalies["ts"].isin(list(ts))
    ].dropna(subset=["expected"])
    sums = rows.groupby(["segment_dim", "segment_value"], as_index=False)[["observed", "expected"]].sum()
    total = sums[sums["segment_dim"].eq(ALL)]
    breakdown = sums[sums["segment_dim"].ne(ALL)]
    total_scores = rows.loc[rows["segment_dim"].eq(ALL), "score"].dropna()
    total_z = float(total_scores.sum() / math.sqrt(len(total_scores))) if len(total_scores) else float("nan")
    if breakdown.empty:
        return float("nan"), "", total_z
    ranked = attribute(total if len(total) == 1 else None, breakdown)
    ranked = ranked.assign(
        label=[_label(d, v) for d, v in zip(ranked["segment_dim"], ranked["segment_value"], strict=True)]
    )
    own = ranked.loc[ranked["label"].eq(cause), "contribution_share"]
    share = float(own.iloc[0]) if len(own) and pd.notna(own.iloc[0]) else float("nan")
    top = ranked.dropna(subset=["contribution_share", "relative_change"]).head(3)
    text = "; ".join(
        f"{lab} {sh * 100:.0f} % of the deviation ({rel * 100:+.0f} %)"
        for lab, sh, rel in zip(top["label"], top["contribution_share"], top["relative_change"], strict=True)
    )
    return share, text, total_z


def _fmt_change(rel: float, direction: str) -> str:
    if not math.isfinite(rel):
        return "fell to zero" if direction == "drop" else "appeared from zero"
    if rel >= 1:
        return f"rose {1 + rel:.1f}x"
    return f"{'fell' if rel < 0 else 'rose'} {abs(rel) * 100:.0f} %"


def _duration(start: pd.Timestamp, end: pd.Timestamp, grain: str) -> str:
    if grain == DAY:
        days = int((end - start) / pd.Timedelta(days=1)) + 1
        return f"{days} day{'s' if days > 1 else ''}"
    hours = int((end - start) / pd.Timedelta(hours=1)) + 1
    return f"{hours} hour{'s' if hours > 1 else ''}"


def _describe(group: _Group, anomalies: pd.DataFrame, cfg: IncidentConfig, charts: Path | None) -> dict | None:
    """One incident row (None while the incident is not confirmed)."""
    members = group.members
    confirmed = _confirmation(members, cfg)
    if confirmed is None:
        return None
    own = _own_rows(group, members)
    # the series the incident is told on: the cause's own, finest grain, most extreme
    metric, grain = _pick(own if not own.empty else members, additive_first=False)
    basis = own if not own.empty else members
    basis = basis[basis["metric"].eq(metric) & basis["grain"].eq(grain)]
    dim, value = str(basis["segment_dim"].iloc[0]), str(basis["segment_value"].iloc[0])
    series = _series(anomalies, metric, grain, dim, value)
    sign = -1.0 if group.direction == "drop" else 1.0
    run = _extended_run(series, basis["ts"], sign, _step(grain), cfg)
    lag = pd.Timedelta(hours=_window_hours(grain) - 1)
    start = run.index.min()
    last = max(run.index.max() - lag, start)
    end = last + pd.Timedelta(hours=23) if grain == DAY else last
    exp_sum = float(run["expected"].sum())
    rel = float(run["observed"].sum()) / exp_sum - 1.0 if exp_sum > 0 else float("nan")
    # attribution on an additive metric when there is one (distinct users do not add up over event names)
    att_metric, att_grain = _pick(members, additive_first=True)
    att_ts = members.loc[members["metric"].eq(att_metric) & members["grain"].eq(att_grain), "ts"].unique()
    share, contributors, total_z = _attribution(anomalies, att_metric, att_grain, att_ts, group.cause)
    what = _metric_text(metric, grain)
    who = "" if group.cause_dim is None else f"{value} "
    summary = (
        f"{who}{what} {_fmt_change(rel, group.direction)} for {_duration(start, last, grain)} "
        f"from {start:%H:%M} UTC on {start:%Y-%m-%d}"
    )
    noun = "drop" if group.direction == "drop" else "rise"
    total_text = _metric_text(att_metric, att_grain)
    moved = math.isfinite(total_z) and abs(total_z) >= 2.0
    if group.cause_dim is None:
        summary += "; no single segment explains it"
        if contributors:
            summary += f" (largest contributor: {contributors.split('; ')[0]})"
    elif not moved:
        summary += f"; {group.cause} is the segment that moved (overall {total_text} stayed within normal range)"
    elif math.isfinite(share) and 0 < share <= 1.05:
        summary += f"; {group.cause} explains {share * 100:.0f} % of the {noun} in {total_text}"
    elif math.isfinite(share) and share > 1.05:
        summary += (
            f"; {group.cause} accounts for all of the {noun} in {total_text} ({share * 100:.0f} %: other segments moved"
            " the other way)"
        )
    else:
        summary += f"; {group.cause} is the most specific segment that moved"
    peak_at = members["score"].abs().idxmax()
    peak_score = float(members.at[peak_at, "score"])
    labels = {_label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)}
    record = {
        "incident_id": group.incident_id,
        "start": start,
        "end": end,
        "first_detected_batch": group.first_batch,
        "raised_batch": confirmed,
        "metrics": ",".join(sorted(set(members["metric"]))),
        "grains": ",".join(sorted(set(members["grain"]), key=_grain_rank)),
        "cause": group.cause,
        "cause_dim": group.cause_dim,
        "cause_value": group.cause_value,
        "direction": group.direction,
        "peak_metric": str(members.at[peak_at, "metric"]),
        "peak_score": peak_score,
        "relative_change": rel,
        "explained_share": share,
        "severity": severity(peak_score, rel),
        "top_contributors": contributors,
        "segments": ",".join(sorted(labels)),
        "n_points": len(members),
        "n_series": int(members.groupby(SERIES_COLUMNS).ngroups),
        "summary": summary,
        "chart_path": None,
    }
    if charts is not None and not series.empty:
        path = charts / f"{group.incident_id}.png"
        step = _step(grain)
        grid = pd.date_range(
            max(series.index.min(), start - cfg.context_before * step),
            min(series.index.max(), end + cfg.context_after * step),
            freq=step,
        )
        window = series.reindex(grid)
        window["is_anomaly"] = window["is_anomaly"].fillna(False).astype(bool)
        title = f"{group.incident_id}: {_label(dim, value)} {what} ({group.direction}, cause {group.cause})"
        plot_anomalies(window["observed"], window, path, title=title)
        record["chart_path"] = str(path)
    return record


def metric_incidents(
    anomalies: pd.DataFrame,
    *,
    config: IncidentConfig | None = None,
    reports: str | Path | None = None,
    charts: bool = True,
) -> pd.DataFrame:
    """The ``metric_incidents`` model: one row per incident (per cause) from the anomalies table.

    ``reports``: folder for the charts (default :func:`reports_dir`); PNGs go to ``<reports>/incidents/``.
    """
    cfg = config or IncidentConfig()
    missing = sorted(set(ANOMALY_COLUMNS) - {"severity"} - set(anomalies.columns))
    if missing:
        raise ValueError(f"anomalies frame is missing columns {missing}")
    if anomalies.empty or not anomalies["is_anomaly"].astype(bool).any():
        return _typed(pd.DataFrame(columns=INCIDENT_COLUMNS))
    frame = anomalies.copy()
    frame["ts"] = pd.to_datetime(frame["ts"])
    for col in ("metric", "grain", "segment_dim", "segment_value"):
        frame[col] = frame[col].astype(str)
    for col in ("observed", "expected", "lower", "upper", "score"):
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    frame["is_anomaly"] = frame["is_anomaly"].astype(bool)
    flagged = frame[frame["is_anomaly"]]
    chart_dir = (Path(reports) if reports is not None else reports_dir()) / "incidents" if charts else None
    groups = [g for family in (HOUR, DAY) for g in _grouped(flagged, family, cfg)]
    for group in groups:
        _reattribute(group, frame, cfg)
    groups = _merge_concurrent(groups, frame, 3 * _step(HOUR))
    groups = _merge_groups(groups, 3 * _step(HOUR), pd.Timedelta(hours=cfg.recovery_hours), cfg.rebound_after_hours)
    records = [r for r in (_describe(g, frame, cfg, chart_dir) for g in groups) if r is not None]
    out = pd.DataFrame.from_records(records, columns=INCIDENT_COLUMNS)
    return _typed(out.sort_values(["start", "cause"], kind="mergesort").reset_index(drop=True))


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    """Fixed dtypes, also when empty (the warehouse table's column types must not depend on the data)."""
    for col in ("start", "end", "first_detected_batch", "raised_batch"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[us]")
    for col in ("peak_score", "relative_change", "explained_share"):
        out[col] = pd.to_numeric(out[col]).astype(float)
    for col in ("n_points", "n_series"):
        out[col] = pd.to_numeric(out[col]).astype("int64")
    numeric_or_time = {"start", "end", "first_detected_batch", "raised_batch", "peak_score", "relative_change"}
    for col in set(INCIDENT_COLUMNS) - numeric_or_time - {"explained_share", "n_points", "n_series"}:
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
