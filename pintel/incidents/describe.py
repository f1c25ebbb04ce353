"""Descriptions of incidents: severity, stable ids, confirmation, span and the plain-language summary.

Everything a reader sees about an incident -- how bad it is, when it was raised, how long it lasted, the
sentence in Slack -- is decided here from the incident's flagged points, so that the anomalies table, the
generic :func:`pintel.incidents.group_incidents` and the pipeline's incidents speak one language: one severity
scale, one id hash, one way to say "fell 61 %".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from pintel.incidents.config import IncidentConfig
from pintel.incidents.series import DAY, Segment, batch, label, window_hours

__all__ = [
    "confirmation",
    "contributors_text",
    "extended_run",
    "incident_id",
    "metric_text",
    "severity",
    "summary",
]

_METRIC_LABEL = {"active_users": "active users", "dau": "daily active users"}


# Severity is impact: the share of the product's activity (events or users of the metric's total over the same
# points) that an incident added or lost. A tenth of everything is critical, a hundredth major.
CRITICAL_IMPACT = 0.10
MAJOR_IMPACT = 0.01


def severity(affected: float, population: float) -> str:
    """'critical' / 'major' / 'minor' from the impact: ``affected`` (observed - expected, events or users)
    over ``population`` (the metric's total expected over the same points), one scale for anomalies and
    incidents. A 100 % loss of a segment holding 0.1 % of the users is minor however extreme its score; a
    20 % drop of everything is critical. Without a population (0 or NaN) the impact is unknown: minor.
    """
    if not (math.isfinite(affected) and math.isfinite(population)) or population <= 0:
        return "minor"
    impact = abs(affected) / population
    if impact >= CRITICAL_IMPACT:
        return "critical"
    if impact >= MAJOR_IMPACT:
        return "major"
    return "minor"


def incident_id(first_ts: pd.Timestamp, cause: str) -> str:
    """sha1(first flagged ts | cause label)[:12]: stable as later batches extend the incident."""
    return hashlib.sha1(f"{pd.Timestamp(first_ts).isoformat()}|{cause}".encode()).hexdigest()[:12]


def metric_text(metric: str, grain: str) -> str:
    """How a metric at a grain is named in a summary, e.g. "events (trailing 2 h sum)"."""
    name = _METRIC_LABEL.get(metric, metric)
    if grain.startswith("trailing_"):
        return f"{name} (trailing {window_hours(grain)} h sum)"
    if grain == DAY:
        return f"daily {name}" if metric != "dau" else name
    return name


def confirmation(members: pd.DataFrame, cfg: IncidentConfig) -> pd.Timestamp | None:
    """First batch at which the incident has ``min_points`` pieces of evidence or one point past confirm_score.

    A piece of evidence is one segment flagged in one hourly batch, counted once however many metrics or
    views flag it (events and active users of a segment in one hour are one observation seen twice). A
    trailing-sum point adds nothing when its window holds an hour already counted from a finer view of the
    same segment (a one-hour blip also lifts the 2-hour sum of the next batch; that is not persistence).
    Two pieces = two segments, or one segment in two batches.
    """
    labels = [label(d, v) for d, v in zip(members["segment_dim"], members["segment_value"], strict=True)]
    windows = [window_hours(g) for g in members["grain"]]
    frame = pd.DataFrame(
        {
            "batch": batch(members["ts"], members["grain"]).to_numpy(),
            "window": windows,
            "label": labels,
            "strong": members["score"].abs().ge(cfg.confirm_score).to_numpy(),
        }
    ).sort_values(["batch", "window"], kind="mergesort")
    counted: dict[str, list[tuple[pd.Timestamp, int]]] = {}
    new = []
    for b, w, segment in zip(frame["batch"], frame["window"], frame["label"], strict=True):
        seen = counted.setdefault(segment, [])
        lo = b - pd.Timedelta(hours=w - 1)
        fresh = all(sb != b for sb, _ in seen) and not any(sw < w and lo <= sb <= b for sb, sw in seen)
        if fresh:
            seen.append((b, w))
        new.append(fresh)
    frame["new"] = new
    per_batch = frame.groupby("batch").agg(n=("new", "sum"), strong=("strong", "any"))
    ok = per_batch["n"].cumsum().ge(cfg.min_points) | per_batch["strong"]
    return per_batch.index[ok.to_numpy()][0] if ok.any() else None


def extended_run(
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


def contributors_text(top: pd.DataFrame) -> str:
    """The best-ranked contributors (``label``, ``contribution_share``, ``relative_change``) as one line."""
    return "; ".join(
        f"{lab} {sh * 100:.0f} % of the deviation ({rel * 100:+.0f} %)"
        for lab, sh, rel in zip(top["label"], top["contribution_share"], top["relative_change"], strict=True)
    )


def summary(
    *,
    cause: Segment,
    value: str,
    metric: str,
    grain: str,
    direction: str,
    relative_change: float,
    start: pd.Timestamp,
    last: pd.Timestamp,
    share: float,
    contributors: str,
    total_metric: str,
    total_grain: str,
    total_z: float,
) -> str:
    """The sentence a PM reads: what moved, how much, for how long, and how much of the total the cause explains.

    ``metric``/``grain``/``value`` name the series the incident is told on (the cause's own when it was
    flagged), ``start``..``last`` its span, ``total_*`` the additive metric the contribution analysis ran on.
    A share of a total that did not move (|z| < 2) is noise, so then the sentence says the segment moved alone.
    """
    what = metric_text(metric, grain)
    who = "" if cause.is_overall else f"{value} "
    text = (
        f"{who}{what} {_fmt_change(relative_change, direction)} for {_duration(start, last, grain)} "
        f"from {start:%H:%M} UTC on {start:%Y-%m-%d}"
    )
    noun = "drop" if direction == "drop" else "rise"
    total_text = metric_text(total_metric, total_grain)
    moved = math.isfinite(total_z) and abs(total_z) >= 2.0
    if cause.is_overall:
        text += "; no single segment explains it"
        if contributors:
            text += f" (largest contributor: {contributors.split('; ')[0]})"
    elif not moved:
        text += f"; {cause.label} is the segment that moved (overall {total_text} stayed within normal range)"
    elif math.isfinite(share) and 0 < share <= 1.05:
        text += f"; {cause.label} explains {share * 100:.0f} % of the {noun} in {total_text}"
    elif math.isfinite(share) and share > 1.05:
        text += (
            f"; {cause.label} accounts for all of the {noun} in {total_text} ({share * 100:.0f} %: other segments"
            " moved the other way)"
        )
    else:
        text += f"; {cause.label} is the most specific segment that moved"
    return text
