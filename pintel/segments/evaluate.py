"""How good and how stable a segmentation is: adjusted Rand index against planted personas and between runs.

The adjusted Rand index compares partitions whatever the labels are called (chance level 0, identical 1), which
is what agreement with personas needs; stability also reports the share of users keeping the *same id*, since
dashboards and plays are keyed on ids, not on partitions.
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import adjusted_rand_score

__all__ = ["segment_agreement", "segment_stability"]


def segment_agreement(assignments: pd.DataFrame, personas: pd.DataFrame) -> float:
    """Adjusted Rand index between ``segment_id`` and planted ``persona`` on the users present in both."""
    merged = assignments[["user_id", "segment_id"]].merge(personas[["user_id", "persona"]], on="user_id")
    if merged.empty:
        raise ValueError("no user in common between segment assignments and personas")
    return float(adjusted_rand_score(merged["persona"], merged["segment_id"]))


def segment_stability(first: pd.DataFrame, second: pd.DataFrame) -> tuple[float, float]:
    """ARI between two runs' segment ids and the share of users keeping the *same id* (not just partition)."""
    merged = first[["user_id", "segment_id"]].merge(second[["user_id", "segment_id"]], on="user_id")
    if merged.empty:
        raise ValueError("no user in common between the two runs")
    ari = float(adjusted_rand_score(merged["segment_id_x"], merged["segment_id_y"]))
    same = float((merged["segment_id_x"] == merged["segment_id_y"]).mean())
    return ari, same
