"""Absolute and relative lift between two arms, with fixed-horizon confidence intervals.

Absolute lift uses Welch's unequal-variance test (statsmodels): arms of an A/B test rarely have
equal variances (a conversion rate's variance moves with the rate), and for the sample sizes of
product experiments Welch's t and the z-test coincide. Relative lift is a ratio of two independent
means; its CI uses the delta method, Var(m_t/m_c) ~ Var(m_t)/m_c^2 + m_t^2 Var(m_c)/m_c^4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW


@dataclass(frozen=True)
class Lift:
    """A difference (or ratio - 1) with its standard error, CI and two-sided p-value."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float


NAN_LIFT = Lift(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))


def absolute_lift(y_treat: np.ndarray, y_control: np.ndarray, alpha: float) -> Lift:
    diff = float(y_treat.mean() - y_control.mean())
    cm = CompareMeans(DescrStatsW(y_treat), DescrStatsW(y_control))
    se = float(cm.std_meandiff_separatevar)
    if not se > 0:  # both arms constant: no sampling variability to speak of
        return Lift(diff, 0.0, diff, diff, float("nan"))
    _, p_value, _ = cm.ttest_ind(usevar="unequal")
    low, high = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    return Lift(diff, se, float(low), float(high), float(p_value))


def relative_lift(y_treat: np.ndarray, y_control: np.ndarray, alpha: float) -> Lift:
    """m_t / m_c - 1 with a delta-method normal CI; NaN when the control mean is 0."""
    m_t, m_c = float(y_treat.mean()), float(y_control.mean())
    if m_c == 0:
        return NAN_LIFT
    var_t = y_treat.var(ddof=1) / len(y_treat)
    var_c = y_control.var(ddof=1) / len(y_control)
    se = float(np.sqrt(var_t / m_c**2 + m_t**2 * var_c / m_c**4))
    rel = m_t / m_c - 1
    if not se > 0:
        return Lift(rel, 0.0, rel, rel, float("nan"))
    z = stats.norm.ppf(1 - alpha / 2)
    p_value = float(2 * stats.norm.sf(abs(rel / se)))
    return Lift(rel, se, rel - z * se, rel + z * se, p_value)
