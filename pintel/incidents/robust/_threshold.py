"""Thresholds from a false-alarm budget, calibrated on each series' own past scores.

The budget is in false *episodes* (runs of consecutive flags) per series per period; at ``rate`` episodes per
grid point (budget x step / period), split evenly between the two sides, a side's threshold is the largest of

1. ``FLOOR`` (3): below it a one-step-ahead model's own estimation error is not negligible;
2. the Student-t quantile at the side's rate with the degrees of freedom of the scale estimate (0.37 per
   residual behind a MAD): the prediction interval of a residual whose scale was estimated from few points,
   wide on a short history and narrowing as it grows;
3. the same quantile with the *tail weight of the series itself*: the degrees of freedom nu of the Student-t
   whose quantile ratio q_deep / q75 of |score| matches the series' recent past, q_deep being as deep in the
   tail as the history supports (``TAIL_POINTS`` scores beyond it, at least q99). Light-tailed noise gives a
   large nu, i.e. nearly Gaussian thresholds; spiky or bursty series a small one, i.e. a higher threshold for
   the same budget. The estimate is shrunk towards ``PRIOR_DF`` by ``PRIOR_POINTS`` pseudo-scores, so a short
   history leans on the prior, and kept at ``MIN_DF`` or more (a t with a finite variance). One-step
   residuals of real metrics have nu of about 3-7 (pooled over the development benchmark's series, on the
   side their labelled anomalies do not fill); the prior is 5;
4. the empirical (conformal) quantile of the side's past episode peaks at the budget's rate: the level that
   at most k past episodes of the memory passed, k being the budget's count for the memory but at least
   ``TAIL_POINTS`` (an empirical tail quantile is not estimable from fewer exceedances). It binds on long
   histories with a heavier extreme tail than the t fit of item 3 can see.

Scores are declustered into episodes (runs above ``EPISODE_FROM``) before ranking, so the rate is one of
episodes, not of flagged points. Items 3 and 4 are refitted at checkpoints (fixed grid positions) from the
scores before the checkpoint only: thresholds are causal, and a prefix of the series gives the same ones.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

FLOOR = 3.0
MAD_EFFICIENCY = 0.37  # var(MAD)/sigma^2 ~ 1.36/n: a MAD from n points is worth ~0.37 n degrees of freedom
PRIOR_DF = 5.0
PRIOR_POINTS = 200
MIN_DF = 3.0
TAIL_POINTS = 20
EPISODE_FROM = 2.0
CHECKPOINTS_PER_MEMORY = 64  # tails are refitted at least every memory / 64 points
_NUS = np.r_[np.linspace(MIN_DF, 10, 57), np.linspace(11, 60, 50), 100.0, 300.0, 1e4]


@lru_cache(maxsize=256)
def _ratio_table(deep: float) -> np.ndarray:
    """q_deep / q75 of |t_nu| over the grid ``_NUS`` (decreasing in nu), to invert a measured ratio into nu."""
    return stats.t.ppf(0.5 + deep / 2, _NUS) / stats.t.ppf(0.5 + 0.75 / 2, _NUS)


def tail_df(absolute: np.ndarray, side_rate: float) -> float:
    """Degrees of freedom of the Student-t whose tail ratio matches ``absolute``, shrunk to the prior."""
    finite = absolute[np.isfinite(absolute)]
    m = len(finite)
    nu = PRIOR_DF
    if m >= TAIL_POINTS:
        deep = round(1.0 - min(0.01, max(TAIL_POINTS / m, 2 * side_rate)), 5)
        high, low = np.quantile(finite, (deep, 0.75))
        if low > 0:
            nu = float(np.interp(-high / low, -_ratio_table(deep), _NUS))  # ratios off the table clamp
        elif high > 0:
            nu = MIN_DF
    weight = m / (m + PRIOR_POINTS)
    return 1.0 / (weight / max(nu, MIN_DF) + (1.0 - weight) / PRIOR_DF)


def _episodes(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``a > EPISODE_FROM``: start, end (inclusive) and peak of each."""
    above = np.nan_to_num(a, nan=-np.inf) > EPISODE_FROM
    if not above.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    edges = np.diff(np.r_[0, above.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    peaks = np.maximum.reduceat(np.where(above, a, -np.inf), starts)
    return starts, ends, peaks


def _calibrated(score: np.ndarray, side_rate: float, memory: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Items 3 and 4 of the module docstring for both sides: (lower, upper), NaN before the first checkpoint."""
    n = len(score)
    out = {1: np.full(n, np.nan), -1: np.full(n, np.nan)}
    absolute = np.abs(score)
    valid = np.r_[0, np.cumsum(np.isfinite(score))]
    episodes = {side: _episodes(side * score) for side in (1, -1)}
    for c in range(stride, n, stride):
        lo = max(c - memory, 0)
        observed = int(valid[c] - valid[lo])
        if observed == 0:
            continue
        parametric = float(stats.t.isf(side_rate, tail_df(absolute[lo:c], side_rate)))
        allowed = max(TAIL_POINTS, int(side_rate * observed))
        for side, (starts, ends, peaks) in episodes.items():
            first, last = np.searchsorted(starts, lo), np.searchsorted(ends, c)  # episodes within [lo, c)
            empirical = -math.inf
            if last - first > allowed:
                empirical = float(np.partition(peaks[first:last], last - first - allowed - 1)[-allowed - 1])
            out[side][c : c + stride] = max(parametric, empirical)
    return out[-1], out[1]


def side_thresholds(
    score: np.ndarray,
    n_scale: np.ndarray,
    rate: float,
    memory: int,
    stride: int,
    fixed: float | None = None,
    full_support: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) thresholds in score units (positive numbers), per grid point; see the module docstring.

    With ``fixed`` (an explicit threshold, meant for a scale from a full window of ``full_support``
    residuals), the threshold is that value, widened on a shorter history by the ratio of the Student-t
    quantiles for the scale's actual and full degrees of freedom, at the Gaussian tail it stands for.
    """
    support = np.maximum(MAD_EFFICIENCY * np.asarray(n_scale, dtype=float), 0.5)
    if fixed is not None:
        tail = stats.norm.sf(fixed)
        full = stats.t.isf(tail, max(MAD_EFFICIENCY * full_support, 0.5))
        widened = fixed * np.maximum(stats.t.isf(tail, support) / full, 1.0)
        return widened, widened
    side_rate = rate / 2.0
    short = np.maximum(stats.t.isf(side_rate, support), FLOOR)
    before_fit = np.maximum(short, stats.t.isf(side_rate, PRIOR_DF))
    lower, upper = _calibrated(score, side_rate, memory, max(stride, memory // CHECKPOINTS_PER_MEMORY, 1))
    lower = np.where(np.isnan(lower), before_fit, np.maximum(lower, short))
    upper = np.where(np.isnan(upper), before_fit, np.maximum(upper, short))
    return lower, upper
