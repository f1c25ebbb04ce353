"""Score detected incidents against the simulator's planted ones: recall, root cause, delay, false incidents.

Incidents (``ground_truth/incidents.parquet``: start, end -- exclusive --, metric, segment_dim, segment_value,
direction) are matched to detected incidents (:func:`pintel.incidents.metric_incidents`) by time and
direction:

* a detected incident *matches* a planted one when it goes the same way (drop / spike) and its span
  ``[start, max(end, raised_batch)]`` overlaps ``[planted start, planted end + tolerance)`` (default 6 h:
  a trailing-sum view may confirm a little after the planted end);
* **recall** -- share of planted incidents with at least one match;
* **detection delay** -- ``first_detected_batch - planted start`` in hours for the earliest match (0 = flagged
  in the first hourly batch that contains the incident; negative when a real precursor in the data was
  flagged), and ``raised_batch - planted start`` (when the incident was confirmed and raised);
* **root cause** -- correct when the earliest matching incident names the planted segment (``cause_dim =
  segment_dim`` and ``cause_value = segment_value``); ``any_cause_correct`` relaxes that to any match;
* **extra incidents** -- further matches of one planted incident (the grouping should give one per cause);
* **false incidents** -- detected incidents matching nothing, per monitored metric name (an incident involving
  events and active users counts for both) and per monitored series, scaled to 90 days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "IncidentScore",
    "load_planted",
    "match_incidents",
    "score_incidents",
]

MATCH_COLUMNS = [
    "planted_id",
    "planted_start",
    "planted_cause",
    "detected",
    "incident_id",
    "detected_cause",
    "first_detected_batch",
    "delay_hours",
    "raised_delay_hours",
    "cause_correct",
    "any_cause_correct",
    "n_matches",
]


def load_planted(ground_truth: str | Path) -> pd.DataFrame:
    """Planted incidents with naive-UTC ``start``/``end`` (end exclusive) and a ``cause`` label."""
    frame = pd.read_parquet(Path(ground_truth) / "incidents.parquet")
    for col in ("start", "end"):
        ts = pd.to_datetime(frame[col], utc=True)
        frame[col] = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    frame["cause"] = frame["segment_dim"].astype(str) + "=" + frame["segment_value"].astype(str)
    return frame.sort_values("start", kind="mergesort").reset_index(drop=True)


def _spans(detected: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    start = pd.to_datetime(detected["start"])
    end = pd.to_datetime(detected["end"])
    batch = pd.to_datetime(detected["raised_batch"] if "raised_batch" in detected else detected["first_detected_batch"])
    return start, np.maximum(end, batch)


def _overlap_mask(detected: pd.DataFrame, truth: pd.Series, tolerance: pd.Timedelta) -> pd.Series:
    d_start, d_end = _spans(detected)
    same_way = detected["direction"].astype(str).eq(str(truth["direction"]))
    return same_way & (d_start < truth["end"] + tolerance) & (d_end >= truth["start"])


def match_incidents(
    detected: pd.DataFrame, planted: pd.DataFrame, *, tolerance: pd.Timedelta | str = "6h"
) -> pd.DataFrame:
    """One row per planted incident with its best match (see the module docstring)."""
    tol = pd.Timedelta(tolerance)
    rows = []
    for _, truth in planted.iterrows():
        hits = detected[_overlap_mask(detected, truth, tol)] if len(detected) else detected
        row = {
            "planted_id": truth["incident_id"],
            "planted_start": truth["start"],
            "planted_cause": truth["cause"],
            "detected": len(hits) > 0,
            "incident_id": None,
            "detected_cause": None,
            "first_detected_batch": pd.NaT,
            "delay_hours": np.nan,
            "raised_delay_hours": np.nan,
            "cause_correct": False,
            "any_cause_correct": False,
            "n_matches": len(hits),
        }
        if len(hits):
            causes = hits["cause_dim"].astype(str) + "=" + hits["cause_value"].astype(str)
            first = hits.assign(_b=pd.to_datetime(hits["first_detected_batch"])).sort_values("_b").iloc[0]
            batch = pd.Timestamp(first["first_detected_batch"])
            row.update(
                incident_id=first["incident_id"],
                detected_cause=first["cause"],
                first_detected_batch=batch,
                delay_hours=(batch - truth["start"]) / pd.Timedelta(hours=1),
                raised_delay_hours=(pd.Timestamp(first["raised_batch"]) - truth["start"]) / pd.Timedelta(hours=1),
                cause_correct=f"{first['cause_dim']}={first['cause_value']}" == truth["cause"],
                any_cause_correct=bool((causes == truth["cause"]).any()),
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


@dataclass
class IncidentScore:
    """Incident detection figures for one data set."""

    recall: float
    cause_accuracy: float
    any_cause_accuracy: float
    mean_delay_hours: float
    max_delay_hours: float
    n_planted: int
    n_detected: int
    n_false: int
    n_extra: int
    false_per_metric_90d: dict[str, float] = field(default_factory=dict)
    false_per_series_90d: float = float("nan")
    matches: pd.DataFrame = field(default_factory=pd.DataFrame)
    false_incidents: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def max_false_per_metric_90d(self) -> float:
        return max(self.false_per_metric_90d.values(), default=0.0)

    def as_dict(self) -> dict[str, object]:
        return {
            "recall": self.recall,
            "cause_accuracy": self.cause_accuracy,
            "any_cause_accuracy": self.any_cause_accuracy,
            "mean_delay_hours": self.mean_delay_hours,
            "max_delay_hours": self.max_delay_hours,
            "n_planted": self.n_planted,
            "n_detected": self.n_detected,
            "n_false": self.n_false,
            "n_extra": self.n_extra,
            "false_per_metric_90d": dict(self.false_per_metric_90d),
            "max_false_per_metric_90d": self.max_false_per_metric_90d,
            "false_per_series_90d": self.false_per_series_90d,
        }


def score_incidents(
    detected: pd.DataFrame,
    planted: pd.DataFrame,
    *,
    days: float,
    metrics: Iterable[str] | None = None,
    n_series: int | None = None,
    tolerance: pd.Timedelta | str = "6h",
) -> IncidentScore:
    """Recall, root-cause accuracy, delay and false incidents of ``detected`` against ``planted``.

    ``days``: length of the evaluated period (false-incident rates are scaled to 90 days). ``metrics``: the
    monitored metric names (default: those appearing in ``detected``). ``n_series``: monitored series count.
    """
    tol = pd.Timedelta(tolerance)
    matches = match_incidents(detected, planted, tolerance=tol)
    matched = np.zeros(len(detected), dtype=bool)
    for _, truth in planted.iterrows():
        if len(detected):
            matched |= _overlap_mask(detected, truth, tol).to_numpy()
    false = detected[~matched] if len(detected) else detected
    seen = {m for ms in detected["metrics"] for m in str(ms).split(",")} if len(detected) else set()
    names = sorted(set(metrics) if metrics is not None else seen)
    scale = 90.0 / days if days > 0 else float("nan")
    per_metric = {
        m: float(sum(m in str(ms).split(",") for ms in false["metrics"])) * scale if len(false) else 0.0 for m in names
    }
    hit = matches[matches["detected"].astype(bool)]  # typed: an empty object column would select columns
    return IncidentScore(
        recall=float(matches["detected"].mean()) if len(matches) else float("nan"),
        cause_accuracy=float(matches["cause_correct"].sum() / max(len(hit), 1)) if len(matches) else float("nan"),
        any_cause_accuracy=float(matches["any_cause_correct"].sum() / max(len(hit), 1)) if len(matches) else np.nan,
        mean_delay_hours=float(hit["delay_hours"].mean()) if len(hit) else float("nan"),
        max_delay_hours=float(hit["delay_hours"].max()) if len(hit) else float("nan"),
        n_planted=len(planted),
        n_detected=len(detected),
        n_false=len(false),
        n_extra=int((hit["n_matches"] - 1).clip(lower=0).sum()),
        false_per_metric_90d=per_metric,
        false_per_series_90d=len(false) * scale / n_series if n_series else float("nan"),
        matches=matches,
        false_incidents=false,
    )
