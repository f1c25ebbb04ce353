"""pintel.churn.operating and the operating-point columns of evaluate(): the cost-weighted high-risk band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.churn import evaluate
from pintel.churn.evaluation import OPERATING_COLUMNS
from pintel.churn.operating import RetentionCosts, cost_summary


def test_threshold_is_cost_weighted_and_costs_are_validated() -> None:
    costs = RetentionCosts.from_meta({"false_positive": "2.0", "false_negative": "12"})  # dbt renders vars as text
    assert costs == RetentionCosts(2.0, 12.0) and costs.threshold == pytest.approx(2 / 14)
    assert RetentionCosts.from_meta(None) is None
    with pytest.raises(ValueError, match="false_negative"):
        RetentionCosts.from_meta({"false_positive": 1})
    with pytest.raises(ValueError, match="unknown churn cost keys"):
        RetentionCosts.from_meta({"false_positive": 1, "false_negative": 1, "fn": 2})
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        RetentionCosts(-1.0, 1.0)
    with pytest.raises(ValueError, match="both be 0"):
        RetentionCosts(0.0, 0.0)


def test_cost_summary_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.3, 0.4, 0.1, 0.05, 0.2, 0.1, 0.0, 0.1, 0.1])
    out = cost_summary(y, p, RetentionCosts(1.0, 3.0))  # t = 0.25: flags rows 0, 1, 2
    assert out["high_risk_threshold"] == 0.25 and out["high_risk_share"] == pytest.approx(0.3)
    assert out["high_risk_precision"] == pytest.approx(2 / 3)
    assert out["expected_cost"] == pytest.approx((1 * 1 + 3 * 1) / 10)  # one false positive, one missed churner
    assert out["cost_flag_none"] == pytest.approx(3 * 3 / 10) and out["cost_flag_all"] == pytest.approx(7 / 10)


def test_recall_14d_counts_churners_flagged_two_weeks_ahead() -> None:
    snap1, snap2 = pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-10")
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "snapshot_date": [snap1, snap2] * 4,
            # a churns 20 days after snap1 (13 after snap2); b 25 after snap1; c after the horizon; d never
            "churn_date": [snap1 + pd.Timedelta(days=20)] * 2
            + [snap1 + pd.Timedelta(days=25)] * 2
            + [snap1 + pd.Timedelta(days=45)] * 2
            + [pd.NaT] * 2,
            "churned_30d": [1, 1, 1, 1, 0, 0, 0, 0],
            # a flagged only at snap2 (13 days ahead: too late), b flagged at snap1, c and d never
            "p": [0.05, 0.5, 0.6, 0.1, 0.1, 0.1, 0.1, 0.3],
        }
    )
    out = evaluate(frame, "churned_30d", {"m": "p"}, horizon_days=30, costs=RetentionCosts(1.0, 1.0)).iloc[0]
    assert out["high_risk_threshold"] == 0.5
    assert out["recall_14d"] == pytest.approx(1 / 2)  # of a and b, only b was named 14+ days ahead
    assert out["high_risk_precision"] == pytest.approx(1.0) and out["high_risk_share"] == pytest.approx(2 / 8)
    plain = evaluate(frame, "churned_30d", {"m": "p"}, horizon_days=30).iloc[0]
    assert plain[OPERATING_COLUMNS].isna().all()  # no costs, no operating point
