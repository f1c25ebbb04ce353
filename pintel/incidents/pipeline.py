"""Metric incidents, the dbt glue: the metric marts -> the anomalies table -> one incident per cause.

The dbt Python models ``metric_anomalies`` and ``metric_incidents`` call :func:`metric_anomalies` and
:func:`metric_incidents` and type the result with :func:`pintel.tables.typed_relation` and
:data:`ANOMALY_SCHEMA` / :data:`INCIDENT_SCHEMA`. Pure pandas, so tests and benchmarks run it without dbt.

1. **Series and detection** (:mod:`pintel.incidents.series`) -- the marts in long format, in user units, as
   hourly / trailing-sum / daily views, through the generic detector (:func:`pintel.incidents.detect`).
2. **Anomalies table** (:func:`select_anomalies`) -- the flagged points, plus what the incident step needs and
   nothing more: every segment of the same metric and view at each flagged timestamp (the breakdown for
   contribution analysis) and a context window around each flagged point of the flagged series (incident
   span, chart).
3. **Incidents**, one per *cause* (not one alert per metric x segment x hour):

   * **grouping** (:func:`pintel.incidents.grouping.episodes`) per grain family (hourly views; daily): a run is
     explained by a smaller segment of another dimension carrying half of its deviation, runs explained by one
     root merge across metrics -- the overall drop, the country=US drop and the android drop of events and of
     active users are one episode -- and concurrent episodes whose roots carry one deviation merge;
   * **cause**, decided once per episode (:func:`pintel.incidents.attribution.decide_cause`): the contribution
     analysis on the total, when it moved, picks among the flagged segments; else the chain rule's root;
   * **views and grains** of one cause merge and the rebound after a long incident is dropped
     (:func:`pintel.incidents.grouping.merge_same_cause`);
   * **confirmation** (:func:`pintel.incidents.describe.confirmation`) -- an isolated blip of one segment in
     one hour is the classic false page: an incident is *raised* once it has two pieces of evidence (two
     segments, or one segment in two batches -- not the same hour seen again through a trailing sum) or one
     point with ``|score| >= confirm_score``. ``first_detected_batch`` is the first hourly batch with a flagged
     point of the incident, ``raised_batch`` the batch that raised it. Unconfirmed blips stay in the anomalies
     table;
   * **span** -- ``start``/``end`` extend the cause's flagged run over adjacent points deviating the same way
     by at least ``span_score`` (hysteresis), so a 4-hour outage whose middle hour scored -2.6 reads as 4
     hours; for a trailing view the end is the run's end less the window;
   * **attribution** -- :func:`pintel.incidents.attribute` on the breakdown of an additive metric (events or
     signups when involved) summed over the flagged hours: ``explained_share`` is the cause's share of the
     total's deviation, ``top_contributors`` the best-ranked values; a **summary** in plain language and a
     **chart** of the cause's series (band, flagged points) under ``<reports>/incidents/<id>.png``.

The defaults (:class:`pintel.incidents.config.IncidentConfig`: views, thresholds, confirmation) were chosen on
simulated warehouses (seeds 7, 11 and 23 of 5 000 users x 90 days) from the reasoning in these docstrings,
never from the planted incidents' shapes or dates; the sparse/dense split uses each series' mean over the data
at hand, so a series crossing 5 users an hour changes views. Measured figures: ``benchmarks/bench_incidents.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pintel.incidents.attribution import concentration, decide_cause, explain_total
from pintel.incidents.completeness import complete_only, freshness_incident
from pintel.incidents.config import IncidentConfig
from pintel.incidents.describe import confirmation, contributors_text, extended_run, metric_text, severity, summary
from pintel.incidents.grouping import Episode, episodes, merge_same_cause
from pintel.incidents.series import (
    ADDITIVE,
    ALL,
    DAY,
    HOUR,
    SERIES_COLUMNS,
    daily_long,
    detect_metrics,
    grain_rank,
    hourly_long,
    label,
    step,
    window_hours,
)
from pintel.settings import Settings

__all__ = [
    "ANOMALY_COLUMNS",
    "ANOMALY_SCHEMA",
    "INCIDENT_COLUMNS",
    "INCIDENT_SCHEMA",
    "metric_anomalies",
    "metric_incidents",
    "select_anomalies",
    "unwatched_events",
]

# The warehouse types of the two Python models (their yml declares the same; the served models cast to theirs).
ANOMALY_SCHEMA: dict[str, str] = {
    "metric": "varchar",
    "grain": "varchar",
    "segment_dim": "varchar",
    "segment_value": "varchar",
    "ts": "timestamp",
    "observed": "double",
    "expected": "double",
    "lower": "double",
    "upper": "double",
    "score": "double",
    "is_anomaly": "boolean",
    "severity": "varchar",
}
INCIDENT_SCHEMA: dict[str, str] = {
    "incident_id": "varchar",
    "kind": "varchar",
    "start": "timestamp",
    "end": "timestamp",
    "first_detected_batch": "timestamp",
    "raised_batch": "timestamp",
    "metrics": "varchar",
    "grains": "varchar",
    "cause": "varchar",
    "cause_dim": "varchar",
    "cause_value": "varchar",
    "direction": "varchar",
    "peak_metric": "varchar",
    "peak_score": "double",
    "relative_change": "double",
    "explained_share": "double",
    "severity": "varchar",
    "top_contributors": "varchar",
    "segments": "varchar",
    "n_points": "bigint",
    "n_series": "bigint",
    "summary": "varchar",
    "chart_path": "varchar",
}
ANOMALY_COLUMNS = list(ANOMALY_SCHEMA)
INCIDENT_COLUMNS = list(INCIDENT_SCHEMA)


# ------------------------------------------------------------------------------------------------------------
# anomalies table
# ------------------------------------------------------------------------------------------------------------


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
    # impact of a flagged point: its deviation against the metric's total at that point (kept as breakdown)
    totals = out.loc[out["segment_dim"].eq(ALL), ["metric", "grain", "ts", "expected"]]
    population = (
        out[["metric", "grain", "ts"]]
        .merge(
            totals.drop_duplicates(["metric", "grain", "ts"]).rename(columns={"expected": "_population"}), how="left"
        )["_population"]
        .to_numpy(dtype=float)
    )
    population = np.where(np.isnan(population), out["expected"].to_numpy(dtype=float), population)
    deviation = (out["observed"] - out["expected"]).to_numpy(dtype=float)
    out["severity"] = [
        severity(float(d), float(p)) if f else None
        for d, p, f in zip(deviation, population, out["is_anomaly"].astype(bool), strict=True)
    ]
    out["is_anomaly"] = out["is_anomaly"].astype(bool)
    return out.sort_values([*SERIES_COLUMNS, "ts"], kind="mergesort").reset_index(drop=True)[ANOMALY_COLUMNS]


def unwatched_events(event_taxonomy: pd.DataFrame | None, config: IncidentConfig | None = None) -> list[str]:
    """Event names of the taxonomy's ``unwatched_categories`` (instrumentation, experiment exposures)."""
    cfg = config or IncidentConfig()
    if event_taxonomy is None or event_taxonomy.empty:
        return []
    missing = sorted({"event_name", "category"} - set(event_taxonomy.columns))
    if missing:
        raise ValueError(f"event taxonomy is missing columns {missing}")
    quiet = event_taxonomy["category"].astype(str).str.strip().str.lower().isin(cfg.unwatched_categories)
    return sorted(event_taxonomy.loc[quiet, "event_name"].astype(str))


def metric_anomalies(
    activity_hourly: pd.DataFrame,
    active_users_daily: pd.DataFrame | None = None,
    signups_daily: pd.DataFrame | None = None,
    config: IncidentConfig | None = None,
    event_taxonomy: pd.DataFrame | None = None,
    freshness: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``metric_anomalies`` model: detection over the hourly (and daily) marts, flagged points + context.

    ``event_taxonomy`` (the ``event_taxonomy`` seed: event_name, category): event names of its
    ``config.unwatched_categories`` are not watched as segments (see :func:`pintel.incidents.series.informative`).
    ``freshness`` (``marts.data_freshness``): only complete periods are judged
    (:func:`pintel.incidents.completeness.complete_only`).
    """
    cfg = config or IncidentConfig()
    activity_hourly, active_users_daily, signups_daily = complete_only(
        activity_hourly, active_users_daily, signups_daily, freshness
    )
    long = hourly_long(activity_hourly)
    daily = daily_long(active_users_daily, signups_daily) if cfg.daily else None
    if daily is not None and not daily.empty:
        long = pd.concat([long, daily], ignore_index=True)
    return select_anomalies(detect_metrics(long, cfg, unwatched_events(event_taxonomy, cfg)), cfg)


# ------------------------------------------------------------------------------------------------------------
# incidents
# ------------------------------------------------------------------------------------------------------------


def _series(anomalies: pd.DataFrame, metric: str, grain: str, dim: str, value: str) -> pd.DataFrame:
    sel = (
        anomalies["metric"].eq(metric)
        & anomalies["grain"].eq(grain)
        & anomalies["segment_dim"].eq(dim)
        & anomalies["segment_value"].eq(value)
    )
    return anomalies[sel].sort_values("ts").set_index("ts")


def _population(anomalies: pd.DataFrame, metric: str, grain: str, run: pd.DataFrame) -> float:
    """The metric's total expected over the run's points (the run's own expected where the total is missing)."""
    total = _series(anomalies, metric, grain, ALL, ALL)
    expected = total["expected"].reindex(run.index)
    return float(expected.fillna(run["expected"]).sum())


def _own_rows(episode: Episode) -> pd.DataFrame:
    """Members on the cause's own series."""
    members, cause = episode.members, episode.cause
    if cause is None or cause.is_overall:
        return members[members["segment_dim"].eq(ALL)]
    return members[members["segment_dim"].eq(cause.dim) & members["segment_value"].eq(cause.value)]


def _pick(pool: pd.DataFrame, additive_first: bool) -> tuple[str, str]:
    """(metric, grain) to describe: finest grain, then largest |score| (additive metrics first if asked)."""
    ranked = pool.assign(
        _m=~pool["metric"].isin(ADDITIVE) if additive_first else False,
        _g=pool["grain"].map(grain_rank),
        _a=-pool["score"].abs(),
    ).sort_values(["_m", "_g", "_a"], kind="mergesort")
    top = ranked.iloc[0]
    return str(top["metric"]), str(top["grain"])


def _incident_record(
    episode: Episode, anomalies: pd.DataFrame, cfg: IncidentConfig, charts: Path | None
) -> dict[str, object] | None:
    """One incident row (None while the incident is not confirmed)."""
    members, cause, direction = episode.members, episode.cause, episode.direction
    if cause is None:
        raise ValueError("an episode is described only once its cause is decided")
    confirmed = confirmation(members, cfg)
    if confirmed is None:
        return None
    own = _own_rows(episode)
    # the series the incident is told on: the cause's own, finest grain, most extreme
    basis = own if not own.empty else members
    metric, grain = _pick(basis, additive_first=False)
    basis = basis[basis["metric"].eq(metric) & basis["grain"].eq(grain)]
    dim, value = str(basis["segment_dim"].iloc[0]), str(basis["segment_value"].iloc[0])
    series = _series(anomalies, metric, grain, dim, value)
    sign = -1.0 if direction == "drop" else 1.0
    run = extended_run(series, basis["ts"], sign, step(grain), cfg)
    lag = pd.Timedelta(hours=window_hours(grain) - 1)
    start = run.index.min()
    last = max(run.index.max() - lag, start)
    end = last + pd.Timedelta(hours=23) if grain == DAY else last
    exp_sum = float(run["expected"].sum())
    rel = float(run["observed"].sum()) / exp_sum - 1.0 if exp_sum > 0 else float("nan")
    # attribution on an additive metric when there is one (distinct users do not add up over event names)
    att_metric, att_grain = _pick(members, additive_first=True)
    att_ts = members.loc[members["metric"].eq(att_metric) & members["grain"].eq(att_grain), "ts"].unique()
    share, top, total_z = explain_total(anomalies, att_metric, att_grain, att_ts, cause.label)
    contributors = contributors_text(top)
    text = (
        summary(
            cause=episode.symptom or cause,  # the series the incident is told on; the note names the cause
            value=value,
            metric=metric,
            grain=grain,
            direction=direction,
            relative_change=rel,
            start=start,
            last=last,
            share=share,
            contributors=contributors,
            total_metric=att_metric,
            total_grain=att_grain,
            total_z=total_z,
        )
        + episode.symptom_note
    )
    peak_at = members["score"].abs().idxmax()
    peak_score = float(members.at[peak_at, "score"])
    labels = {label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)}
    record: dict[str, object] = {
        "incident_id": episode.incident_id,
        "kind": "metric",
        "start": start,
        "end": end,
        "first_detected_batch": episode.first_batch,
        "raised_batch": confirmed,
        "metrics": ",".join(sorted(set(members["metric"]))),
        "grains": ",".join(sorted(set(members["grain"]), key=grain_rank)),
        "cause": cause.label,
        "cause_dim": cause.dim,
        "cause_value": cause.value,
        "direction": direction,
        "peak_metric": str(members.at[peak_at, "metric"]),
        "peak_score": peak_score,
        "relative_change": rel,
        "explained_share": share,
        "severity": severity(
            float((run["observed"] - run["expected"]).sum()), _population(anomalies, metric, grain, run)
        ),
        "top_contributors": contributors,
        "segments": ",".join(sorted(labels)),
        "n_points": len(members),
        "n_series": int(members.groupby(SERIES_COLUMNS).ngroups),
        "summary": text,
        "chart_path": None,
    }
    if charts is not None and not series.empty:
        told = f"{label(dim, value)} {metric_text(metric, grain)}"
        title = f"{episode.incident_id}: {told} ({direction}, cause {cause.label})"
        record["chart_path"] = str(_chart(series, grain, start, end, charts / f"{episode.incident_id}.png", title, cfg))
    return record


def _chart(
    series: pd.DataFrame,
    grain: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    path: Path,
    title: str,
    cfg: IncidentConfig,
) -> Path:
    """PNG of the told series around the incident (``context_before``/``context_after`` points either side).

    matplotlib is imported here, not at module level: importing :mod:`pintel.incidents` (e.g. for ``detect``)
    must not load it nor switch the process to its headless backend.
    """
    from pintel.incidents.charts import plot_anomalies

    every = step(grain)
    grid = pd.date_range(
        max(series.index.min(), start - cfg.context_before * every),
        min(series.index.max(), end + cfg.context_after * every),
        freq=every,
    )
    window = series.reindex(grid)
    window["is_anomaly"] = window["is_anomaly"].fillna(False).astype(bool)
    return plot_anomalies(window["observed"], window, path, title=title)


def _normalised(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The anomalies table with plain dtypes, whether it comes from pandas or back from the warehouse."""
    frame = anomalies.copy()
    frame["ts"] = pd.to_datetime(frame["ts"])
    for col in ("metric", "grain", "segment_dim", "segment_value"):
        frame[col] = frame[col].astype(str)
    for col in ("observed", "expected", "lower", "upper", "score"):
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    frame["is_anomaly"] = frame["is_anomaly"].astype(bool)
    return frame


def _locate_symptom(episode: Episode, event_segments: pd.DataFrame, cfg: IncidentConfig) -> None:
    """An incident of one event name is an incident of the population its move is concentrated in, if any.

    The event (an error event rising) is what moved -- the symptom; the segment it moved for (platform=web,
    where a flag rollout broke a feature) is the cause a reader acts on.
    """
    cause = episode.cause
    if cause is None or cause.dim != "event_name":
        return
    lo, hi = episode.covered()
    hours = pd.date_range(lo, hi, freq="h")
    sign = -1 if episode.direction == "drop" else 1
    found = concentration(event_segments, str(cause.value), hours, sign, cfg.min_share)
    if found is None:
        return
    episode.symptom, episode.cause = cause, found.segment
    own = "appeared" if not np.isfinite(found.relative_change) else f"changed {found.relative_change * 100:+.0f} %"
    episode.symptom_note = (
        f"; the move of {cause.label} is concentrated in {found.segment.label} ({found.share * 100:.0f} % of it: "
        f"{own} there, {found.rest_change * 100:+.0f} % elsewhere)"
    )


def metric_incidents(
    anomalies: pd.DataFrame,
    *,
    config: IncidentConfig | None = None,
    reports: str | Path | None = None,
    charts: bool = True,
    event_segments: pd.DataFrame | None = None,
    freshness: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``metric_incidents`` model: one row per incident (per cause) from the anomalies table.

    ``event_segments`` (``marts.event_segments_hourly``): when given, an incident whose cause is one event name
    is re-attributed to the population segment that event's move is concentrated in (the event becomes its
    symptom, named in the summary).

    ``reports``: folder for the charts (default ``Settings.from_env().reports``); PNGs go to
    ``<reports>/incidents/``. Columns: :data:`INCIDENT_COLUMNS`; the warehouse types are :data:`INCIDENT_SCHEMA`
    (applied by the dbt model with :func:`pintel.tables.typed_relation`, so an empty result is typed too).
    ``freshness`` (``marts.data_freshness``): a stale events feed adds one incident of kind ``freshness``.
    """
    stalled = freshness_incident(freshness)
    found = _metric_incidents(anomalies, config, reports, charts, event_segments)
    if stalled is None:
        return found
    return pd.concat([found, pd.DataFrame([stalled], columns=INCIDENT_COLUMNS)], ignore_index=True)


def _metric_incidents(
    anomalies: pd.DataFrame,
    config: IncidentConfig | None,
    reports: str | Path | None,
    charts: bool,
    event_segments: pd.DataFrame | None,
) -> pd.DataFrame:
    cfg = config or IncidentConfig()
    missing = sorted(set(ANOMALY_COLUMNS) - {"severity"} - set(anomalies.columns))
    if missing:
        raise ValueError(f"anomalies frame is missing columns {missing}")
    if anomalies.empty or not anomalies["is_anomaly"].astype(bool).any():
        return pd.DataFrame(columns=INCIDENT_COLUMNS)
    frame = _normalised(anomalies)
    chart_dir = None
    if charts:
        chart_dir = (Path(reports) if reports is not None else Settings.from_env().reports) / "incidents"
    found = episodes(frame[frame["is_anomaly"]], frame, cfg.min_share)
    for episode in found:  # the one decision of each cause
        episode.cause = decide_cause(episode.members, frame, episode.roots, cfg.min_share)
    gap, recovery = 3 * step(HOUR), pd.Timedelta(hours=cfg.recovery_hours)
    found = merge_same_cause(found, gap, recovery, cfg.rebound_after_hours)
    if event_segments is not None and not event_segments.empty:
        for episode in found:
            _locate_symptom(episode, event_segments, cfg)
    records = [r for r in (_incident_record(e, frame, cfg, chart_dir) for e in found) if r is not None]
    out = pd.DataFrame.from_records(records, columns=INCIDENT_COLUMNS)
    return out.sort_values(["start", "cause"], kind="mergesort").reset_index(drop=True)
