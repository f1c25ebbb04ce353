"""Grouping: flagged points of many metric x segment series -> runs -> one group per event.

A single outage flags dozens of series (the overall events, the android events, the US events, active users,
hourly and 2-hour views, the daily point); a reader wants one incident. Grouping decides *which flagged points
belong together*; which segment caused them is decided afterwards, once, by
:func:`pintel.incidents.attribution.decide_cause`.

1. **Runs** -- per series, flagged points no more than ``max_gap`` apart and of the same sign form a run (a
   drop followed by a spike is two runs).
2. **Chain rule** -- run A *explains* run B when both are of the same metric and direction, overlap in time
   (within ``max_gap``), A is a segment of a *different* dimension than B (the overall series counts as no
   dimension; values of one dimension are disjoint and cannot explain each other), A is a smaller slice (lower
   mean expected value) and A carries at least ``min_share`` of B's deviation (observed - expected summed over
   common timestamps). Each run points at the most specific run explaining it (smallest volume, then largest
   share); the end of that chain is the run's *root*: the overall drop of events and the country=US drop both
   end at platform=android (20 % of traffic, 92 % of the drop) when android explains them.
3. **Clusters** -- runs with the same root and direction whose time spans overlap or are within ``max_gap``
   form one cluster, across metrics (events and DAU dropping because of android are one cluster).

:func:`group_incidents` is the generic form (any long table of flagged points; the root is the cause). The
pipeline (:mod:`pintel.incidents.pipeline`) goes on with :func:`episodes`: clusters whose roots carry one
deviation seen through two dimensions are one episode, and after the cause is decided
:func:`merge_same_cause` joins the views and grains of one cause and drops the rebound after a long incident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pintel.incidents.attribution import CONCENTRATION, deviations_overlap
from pintel.incidents.describe import incident_id, severity
from pintel.incidents.series import ALL, DAY, HOUR, OVERALL, Segment, batch, family, step, window_hours

__all__ = ["Episode", "Run", "episodes", "group_incidents", "merge_same_cause"]

INCIDENT_GROUP_COLUMNS = [
    "incident_id",
    "start",
    "end",
    "metrics",
    "cause_dim",
    "cause_value",
    "cause",
    "segments",
    "peak_metric",
    "peak_score",
    "relative_change",
    "direction",
    "severity",
    "n_points",
    "n_series",
]


# ------------------------------------------------------------------------------------------------------------
# runs and the chain rule
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Consecutive flagged points of one series (metric, dim, value); ``dim`` None = the overall metric.

    ``metric`` is whatever identifies the series apart from its segment: the metric name for
    :func:`group_incidents`, ``metric|grain`` in the pipeline (views of one metric do not explain each other).
    """

    metric: str
    dim: str | None
    value: str | None
    rows: pd.DataFrame
    parent: Run | None = None

    @property
    def start(self) -> pd.Timestamp:
        return self.rows["ts"].iloc[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.rows["ts"].iloc[-1]

    @property
    def volume(self) -> float:
        """Mean expected value: smaller = more specific slice."""
        return float(self.rows["expected"].abs().mean())

    @property
    def direction(self) -> int:
        dev = float((self.rows["observed"] - self.rows["expected"]).sum())
        if dev == 0:
            dev = float(self.rows["score"].sum())
        return -1 if dev < 0 else 1

    @property
    def segment(self) -> Segment:
        return OVERALL if self.dim is None else Segment(self.dim, str(self.value))

    @property
    def root(self) -> Segment:
        """The segment at the end of the chain of explanations (itself when nothing explains it)."""
        run = self
        while run.parent is not None:
            run = run.parent
        return run.segment


def _is_overall(dim: object) -> bool:
    return dim is None or (isinstance(dim, float) and math.isnan(dim)) or str(dim).strip() in ("", "overall")


def _infer_gap(ts: pd.Series, keys: pd.Series) -> pd.Timedelta:
    diffs = ts.groupby(keys).diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    step_seen = diffs.min() if len(diffs) else pd.Timedelta(hours=1)
    return 3 * step_seen


def _split_runs(rows: pd.DataFrame, max_gap: pd.Timedelta) -> list[pd.DataFrame]:
    """Runs of one series: a gap longer than ``max_gap`` or a change of sign (drop <-> spike) starts a new run."""
    rows = rows.sort_values("ts", kind="mergesort")
    sign = np.sign(rows["score"].astype(float).fillna(0.0))
    breaks = (rows["ts"].diff() > max_gap) | (sign.ne(sign.shift()) & sign.shift().notna())
    return [part for _, part in rows.groupby(breaks.cumsum().to_numpy(), sort=True)]


def _overlaps(a: Run, b: Run, max_gap: pd.Timedelta) -> bool:
    return a.start <= b.end + max_gap and b.start <= a.end + max_gap


def _explained_share(explained: Run, candidate: Run) -> float:
    """Share of ``explained``'s deviation (observed - expected) carried by ``candidate`` at common times."""
    left = explained.rows[["ts", "observed", "expected"]]
    merged = left.merge(candidate.rows[["ts", "observed", "expected"]], on="ts", suffixes=("_e", "_c"))
    if merged.empty:  # overlapping within the gap tolerance but no common timestamp: compare mean deviations
        dev_e = float((explained.rows["observed"] - explained.rows["expected"]).mean())
        dev_c = float((candidate.rows["observed"] - candidate.rows["expected"]).mean())
    else:
        dev_e = float((merged["observed_e"] - merged["expected_e"]).sum())
        dev_c = float((merged["observed_c"] - merged["expected_c"]).sum())
    return dev_c / dev_e if dev_e != 0 else 0.0


def _concentrated_in(explained: Run, candidate: Run) -> bool:
    """Whether ``explained``'s move sits in ``candidate``: the rest of ``explained`` (its observed - expected
    without the candidate's, at common times) changed by at most half the candidate's relative change.

    A proportional slice (page views falling 60 % when the whole product fell 60 %) carries its share of the
    deviation but is not where the move is; the android outage is (android -60 %, the rest of the total 0 %).
    """
    merged = explained.rows[["ts", "observed", "expected"]].merge(
        candidate.rows[["ts", "observed", "expected"]], on="ts", suffixes=("_e", "_c")
    )
    if merged.empty:
        return True  # no common timestamp: nothing to tell them apart with
    dev_c = float((merged["observed_c"] - merged["expected_c"]).sum())
    exp_c = float(merged["expected_c"].sum())
    rest_dev = float((merged["observed_e"] - merged["expected_e"]).sum()) - dev_c
    rest_exp = float(merged["expected_e"].sum()) - exp_c
    if exp_c <= 0 or rest_exp <= 0:
        return True
    own = dev_c / exp_c
    return bool(rest_dev / rest_exp * np.sign(own) <= CONCENTRATION * abs(own))  # the rest moving the other way is fine


def _can_explain(candidate: Run, run: Run, max_gap: pd.Timedelta) -> bool:
    return (
        candidate is not run
        and candidate.dim is not None  # the overall series is never a more specific explanation
        and candidate.dim != run.dim  # values of one dimension are disjoint slices: they cannot explain each other
        and candidate.metric == run.metric
        and candidate.direction == run.direction
        and candidate.volume < run.volume
        and _overlaps(candidate, run, max_gap)
    )


def _link(runs: list[Run], max_gap: pd.Timedelta, min_share: float) -> None:
    """Point every run at the most specific run that explains it (the chain rule of the module docstring)."""
    for run in runs:
        explaining = []
        for cand in runs:
            if _can_explain(cand, run, max_gap):
                share = _explained_share(run, cand)
                if share >= min_share and _concentrated_in(run, cand):
                    explaining.append((cand.volume, -share, cand.dim, str(cand.value), cand))
        if explaining:
            # strictly smaller volume along every parent link, so the chains are acyclic
            run.parent = min(explaining, key=lambda item: item[:4])[-1]


def _runs(rows: pd.DataFrame, keys: list[tuple[str, str | None, str | None]], max_gap: pd.Timedelta) -> list[Run]:
    """Runs of every series; ``keys`` gives each row's (metric, dim, value), dim None for the overall metric."""
    # Plain Python keys: pandas' string dtype would turn None into NaN and groupby would drop those rows.
    series_key = pd.Series([repr(k) for k in keys], index=rows.index, dtype=object)
    key_of = dict(zip(series_key, keys, strict=True))
    runs: list[Run] = []
    for key_repr, part in rows.groupby(series_key, sort=True):
        metric, dim, value = key_of[key_repr]
        runs.extend(Run(metric, dim, value, chunk) for chunk in _split_runs(part, max_gap))
    return runs


def _clusters(runs: list[Run], max_gap: pd.Timedelta) -> list[tuple[Segment, list[Run]]]:
    """Runs with the same root and direction that overlap in time (within ``max_gap``), by root then time."""
    by_root: dict[tuple[tuple[str, str], int], tuple[Segment, list[Run]]] = {}
    for run in runs:
        root = run.root
        by_root.setdefault((root.sort_key, run.direction), (root, []))[1].append(run)
    out = []
    for _, (root, root_runs) in sorted(by_root.items(), key=lambda item: item[0]):
        root_runs.sort(key=lambda r: (r.start, r.end, r.metric))
        clusters: list[list[Run]] = []
        for run in root_runs:
            if clusters and run.start <= max(r.end for r in clusters[-1]) + max_gap:
                clusters[-1].append(run)
            else:
                clusters.append([run])
        out.extend((root, cluster) for cluster in clusters)
    return out


# ------------------------------------------------------------------------------------------------------------
# generic: one row per incident, the root is the cause
# ------------------------------------------------------------------------------------------------------------


def group_incidents(
    anomalies: pd.DataFrame,
    *,
    max_gap: pd.Timedelta | str | None = None,
    min_share: float = 0.5,
) -> pd.DataFrame:
    """Merge flagged points of many metric/segment series into one row per incident (one per cause).

    Input: one row per flagged point with ``metric, segment_dim, segment_value, ts, score, observed,
    expected`` (a NULL/empty/"overall" ``segment_dim`` marks the unsegmented metric). If an ``is_anomaly``
    column is present, only its True rows are used, so :func:`pintel.incidents.detect_frame` output can be
    passed directly.

    Runs, the chain rule and clusters are those of the module docstring (default gap: 3 sampling steps, the
    step being the smallest spacing seen within a series); each cluster is one incident and its root is the
    cause ("overall" when nothing explains the overall series). Without the metric's full breakdown there is
    no total to run a contribution analysis on: the pipeline's :func:`pintel.incidents.metric_incidents`
    decides causes with it.

    Columns: ``incident_id`` = sha1(first ts | cause)[:12] (stable as later batches extend it),
    ``start``/``end``, ``metrics`` (sorted, comma-joined), ``cause_dim``/``cause_value``/``cause``
    ("dim=value" or "overall"), ``segments`` (all series involved), ``peak_metric``/``peak_score`` (signed
    score with the largest magnitude), ``relative_change`` (sum observed / sum expected - 1 on the cause's own
    series of the peak metric when it has one), ``direction`` ("drop"/"spike", sign of that deviation),
    ``severity`` (:func:`pintel.incidents.describe.severity`), ``n_points`` and ``n_series``.
    """
    needed = {"metric", "segment_dim", "segment_value", "ts", "score", "observed", "expected"}
    if not isinstance(anomalies, pd.DataFrame) or not needed <= set(anomalies.columns):
        raise ValueError(f"anomalies must be a DataFrame with columns {sorted(needed)}")
    rows = anomalies
    if "is_anomaly" in rows.columns:
        rows = rows[rows["is_anomaly"].astype(bool)]
    rows = rows[sorted(needed)].copy()
    if rows.empty:
        return pd.DataFrame(columns=INCIDENT_GROUP_COLUMNS)
    rows["ts"] = pd.to_datetime(rows["ts"])
    keys = [
        (str(m), None, None) if _is_overall(d) else (str(m), str(d), str(v))
        for m, d, v in zip(rows["metric"], rows["segment_dim"], rows["segment_value"], strict=True)
    ]
    if max_gap is not None:
        gap = pd.Timedelta(max_gap)
    else:
        gap = _infer_gap(rows["ts"], pd.Series([repr(k) for k in keys], index=rows.index, dtype=object))
    runs = _runs(rows, keys, gap)
    _link(runs, gap, min_share)
    records = [_incident_row(cluster, root) for root, cluster in _clusters(runs, gap)]
    out = pd.DataFrame.from_records(records, columns=INCIDENT_GROUP_COLUMNS)
    return out.sort_values(["start", "cause"], kind="mergesort").reset_index(drop=True)


def _incident_row(cluster: list[Run], cause: Segment) -> dict[str, object]:
    """One incident row; magnitudes are read on the cause's own series for the metric with the peak score."""
    all_rows = pd.concat([r.rows.assign(_metric=r.metric) for r in cluster], ignore_index=True)
    scores = all_rows["score"].astype(float).to_numpy()
    peak_at = int(np.nanargmax(np.abs(scores))) if np.isfinite(scores).any() else 0
    own = [r for r in cluster if r.segment == cause]
    own_metrics = {r.metric for r in own}
    peak_metric = str(all_rows["_metric"].iloc[peak_at])
    basis_metric = peak_metric if peak_metric in own_metrics or not own else sorted(own_metrics)[0]
    basis = pd.concat([r.rows for r in own if r.metric == basis_metric] or [all_rows], ignore_index=True)
    exp_sum = float(basis["expected"].sum())
    dev = float((basis["observed"] - basis["expected"]).sum())
    rel = dev / exp_sum if exp_sum != 0 else float("nan")
    peak = float(scores[peak_at])
    start = all_rows["ts"].min()
    # impact against the metric's total over the same points when the cluster holds it, else the cause's own
    total = [r.rows for r in cluster if r.dim is None and r.metric == basis_metric]
    population = pd.concat(total)["expected"].sum() if total else exp_sum
    return {
        "incident_id": incident_id(start, cause.label),
        "start": start,
        "end": all_rows["ts"].max(),
        "metrics": ",".join(sorted({r.metric for r in cluster})),
        "cause_dim": cause.dim,
        "cause_value": cause.value,
        "cause": cause.label,
        "segments": ",".join(sorted({r.segment.label for r in cluster})),
        "peak_metric": peak_metric,
        "peak_score": peak,
        "relative_change": rel,
        "direction": "drop" if (dev < 0 if dev != 0 else peak < 0) else "spike",
        "severity": severity(dev, float(population)),
        "n_points": len(all_rows),
        "n_series": len({(r.metric, r.dim, r.value) for r in cluster}),
    }


# ------------------------------------------------------------------------------------------------------------
# pipeline: episodes of the anomalies table
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Episode:
    """The flagged points of one incident in the making: one direction, one or more chain-rule roots.

    ``cause`` is None until :func:`pintel.incidents.attribution.decide_cause` sets it. ``symptom`` is the
    event name the flagged points moved on when the cause is the population segment that event's move is
    concentrated in (:func:`pintel.incidents.attribution.concentration`), ``symptom_note`` the sentence saying so.
    """

    roots: list[Segment]
    direction: str
    members: pd.DataFrame
    cause: Segment | None = field(default=None)
    symptom: Segment | None = field(default=None)
    symptom_note: str = ""

    @property
    def first_batch(self) -> pd.Timestamp:
        return batch(self.members["ts"], self.members["grain"]).min()

    @property
    def first_ts(self) -> pd.Timestamp:
        """The timestamp of the point flagged first (earliest batch, then earliest point): the id's anchor."""
        order = pd.DataFrame({"b": batch(self.members["ts"], self.members["grain"]), "ts": self.members["ts"]})
        return order.sort_values(["b", "ts"], kind="mergesort")["ts"].iloc[0]

    @property
    def incident_id(self) -> str:
        if self.cause is None:
            raise ValueError("the episode's cause is not decided yet")
        return incident_id(self.first_ts, self.cause.label)

    def covered(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Hours the flagged points speak about: a trailing-w sum at t covers [t-w+1, t], a day its 24 hours."""
        ts, grain = self.members["ts"], self.members["grain"]
        windows = pd.to_timedelta([window_hours(g) - 1 for g in grain], unit="h")
        lo = (ts - windows.to_numpy()).min()
        hi = batch(ts, grain).max()
        return lo, hi

    def absorb(self, other: Episode) -> None:
        """Take ``other``'s points and roots (the roots of the one flagged first stay first)."""
        first, second = (self, other) if self.first_batch <= other.first_batch else (other, self)
        self.roots = list(dict.fromkeys([*first.roots, *second.roots]))
        self.members = pd.concat([self.members, other.members])


def _family_clusters(flagged: pd.DataFrame, grains: str, min_share: float) -> list[Episode]:
    """The chain rule's clusters of one grain family (hourly views, or daily), as single-root episodes."""
    rows = flagged[flagged["grain"].map(family).eq(grains)]
    if rows.empty:
        return []
    keys = [
        (f"{m}|{g}", None, None) if d == ALL else (f"{m}|{g}", str(d), str(v))
        for m, g, d, v in zip(rows["metric"], rows["grain"], rows["segment_dim"], rows["segment_value"], strict=True)
    ]
    gap = 3 * step(grains)
    runs = _runs(rows, keys, gap)
    _link(runs, gap, min_share)
    out = []
    for root, cluster in _clusters(runs, gap):
        members = pd.concat([r.rows for r in cluster]).sort_index(kind="mergesort")
        out.append(Episode([root], "drop" if cluster[0].direction < 0 else "spike", members))
    return out


def episodes(flagged: pd.DataFrame, anomalies: pd.DataFrame, min_share: float) -> list[Episode]:
    """Episodes of the anomalies table: chain-rule clusters per grain family, merged when concurrent.

    Two concurrent clusters of one direction whose roots are segments of two dimensions are one episode when
    their roots carry one deviation (:func:`pintel.incidents.attribution.deviations_overlap`): with sparse
    counts a proportional slice can reach half of a run's deviation by chance (android getting 54 % of a
    paid-social signup burst), and the two roots would otherwise be raised as two incidents for one event.
    Merging is transitive (union-find), so the result does not depend on the order clusters are compared in.
    """
    clusters = [e for grains in (HOUR, DAY) for e in _family_clusters(flagged, grains, min_share)]
    gap = 3 * step(HOUR)
    parent = list(range(len(clusters)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(clusters):
        for j in range(i + 1, len(clusters)):
            b = clusters[j]
            ra, rb = a.roots[0], b.roots[0]
            if a.direction != b.direction or ra.is_overall or rb.is_overall or ra.dim == rb.dim:
                continue
            (a0, a1), (b0, b1) = a.covered(), b.covered()
            if not (a0 <= b1 + gap and b0 <= a1 + gap) or find(i) == find(j):
                continue
            if deviations_overlap(pd.concat([a.members, b.members]), anomalies, ra, rb):
                parent[find(j)] = find(i)
    # The total and a concurrent segment moving the same way on one of its metrics are one event: a segment
    # whose move is a proportional part of the total's (every event name falling with the whole product) is
    # the total's move seen through a slice, and a total moved by a concentrated segment is that segment's
    # incident (the chain rule misses it when sparse runs share few timestamps). The cause is decided after.
    for i, a in enumerate(clusters):
        if not a.roots[0].is_overall:
            continue
        for j, b in enumerate(clusters):
            rb = b.roots[0]
            if j == i or rb.is_overall or a.direction != b.direction or find(i) == find(j):
                continue
            (a0, a1), (b0, b1) = a.covered(), b.covered()
            shared_metric = bool(set(a.members["metric"]) & set(b.members["metric"]))
            if a0 <= b1 + gap and b0 <= a1 + gap and shared_metric:
                parent[find(j)] = find(i)
    merged: dict[int, Episode] = {}
    for i, cluster in enumerate(clusters):
        head = find(i)
        if head in merged:
            merged[head].absorb(cluster)
        else:
            merged[head] = cluster
    return list(merged.values())


def merge_same_cause(groups: list[Episode], gap: pd.Timedelta, recovery: pd.Timedelta, min_hours: int) -> list[Episode]:
    """Merge episodes of one cause and direction whose covered hours overlap or are within ``gap``; drop rebounds.

    Views of one incident (hourly, trailing sums, daily) are grouped separately and lag each other; this
    makes them one incident whose id is anchored on the point flagged first, so it does not change when a
    coarser view or the daily point joins later.

    Rebounds: when an incident lasted ``min_hours`` or more, the detector's level (a median over the last two
    days) has partly absorbed it, so the return to normal looks like the opposite anomaly for a while. A
    weaker episode of the same cause in the opposite direction starting after such an incident ends and
    within ``recovery`` of it is that rebound, not an incident (its points stay in the anomalies table).
    """
    if any(g.cause is None for g in groups):
        raise ValueError("merge_same_cause needs decided causes")
    merged: list[Episode] = []
    for group in sorted(groups, key=lambda g: (g.cause.label, g.direction, g.covered()[0])):  # type: ignore[union-attr]
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.cause, last.direction) == (group.cause, group.direction)
            and group.covered()[0] <= last.covered()[1] + gap
        ):
            last.absorb(group)
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
