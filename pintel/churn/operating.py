"""The operating point: who is "high risk", chosen from what a wrong call costs the retention play.

Contacting a user who would have stayed costs ``c_fp`` (the team's time, an unneeded discount); not contacting a
churner the play could have kept costs ``c_fn`` (the value lost). With *calibrated* probabilities, contacting a
user of probability ``p`` has expected cost ``(1 - p) c_fp`` and not contacting ``p c_fn``; contacting is the
cheaper choice exactly when ``p >= t`` with::

    t = c_fp / (c_fp + c_fn)

(the Bayes decision rule for asymmetric costs; Elkan 2001, "The foundations of cost-sensitive learning"). So the
threshold comes from the two costs, not from a share of users, and it only means something because the
probabilities are calibrated (hence the prior-shift adjustment in :mod:`pintel.churn.calibration`).

The costs are the dbt vars ``churn_cost_false_positive`` / ``churn_cost_false_negative`` (in the policy's
value unit), handed in by the models' yml ``meta``; :class:`RetentionCosts` is their one Python home.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RetentionCosts", "cost_summary"]


@dataclass(frozen=True)
class RetentionCosts:
    """Cost of a false positive (contacting a user who would have stayed) and of a false negative (missing a
    churner), per user-snapshot, in the policy's value unit."""

    false_positive: float
    false_negative: float

    def __post_init__(self) -> None:
        for name in ("false_positive", "false_negative"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"churn cost {name} must be a finite number >= 0, got {value!r}")
        if self.false_positive + self.false_negative == 0:
            raise ValueError("churn costs: false_positive and false_negative cannot both be 0")

    @classmethod
    def from_meta(cls, value: Mapping[str, Any] | RetentionCosts | None) -> RetentionCosts | None:
        """From a yml ``meta`` mapping ``{false_positive: .., false_negative: ..}`` (strings allowed: dbt renders
        vars as text); None stays None (no operating point: quantile bands)."""
        if value is None or isinstance(value, RetentionCosts):
            return value
        unknown = set(value) - {"false_positive", "false_negative"}
        if unknown:
            raise ValueError(f"unknown churn cost keys {sorted(unknown)}: expected false_positive, false_negative")
        try:
            return cls(float(value["false_positive"]), float(value["false_negative"]))
        except KeyError as exc:
            raise ValueError(f"churn costs need {exc.args[0]!r} (meta churn_costs)") from None

    @property
    def threshold(self) -> float:
        """``c_fp / (c_fp + c_fn)``: flag a user as high risk at or above this calibrated probability."""
        return self.false_positive / (self.false_positive + self.false_negative)

    def as_params(self) -> dict[str, float]:
        return {
            "cost_false_positive": self.false_positive,
            "cost_false_negative": self.false_negative,
            "high_risk_threshold": round(self.threshold, 6),
        }


def cost_summary(y: np.ndarray, probability: np.ndarray, costs: RetentionCosts) -> dict[str, float]:
    """Realised cost per user-snapshot of flagging at ``costs.threshold``, of flagging nobody and everybody, and
    the precision and share of the flagged (high-risk) band.

    ``expected_cost`` = (c_fp x false positives + c_fn x false negatives) / rows: the average cost of one
    decision at this operating point, comparable across windows of different sizes. Flagging nobody costs
    ``c_fn x churn rate``, flagging everybody ``c_fp x (1 - churn rate)``; a useful model is below both.
    """
    y = np.asarray(y, dtype=np.float64)
    flagged = np.asarray(probability, dtype=np.float64) >= costs.threshold
    n = max(y.size, 1)
    fp = float(((1 - y) * flagged).sum())
    fn = float((y * ~flagged).sum())
    return {
        "high_risk_threshold": costs.threshold,
        "high_risk_share": float(flagged.mean()) if y.size else math.nan,
        "high_risk_precision": float(y[flagged].mean()) if flagged.any() else math.nan,
        "expected_cost": (costs.false_positive * fp + costs.false_negative * fn) / n,
        "cost_flag_none": costs.false_negative * float(y.sum()) / n,
        "cost_flag_all": costs.false_positive * float((1 - y).sum()) / n,
    }
