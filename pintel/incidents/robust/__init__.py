"""Causal anomaly detection for real metric series of any kind, with thresholds set by a false-alarm budget.

``detect(series)`` flags the points of one metric series (a pandas Series on a DatetimeIndex: counts, rates,
latencies, percentages, negative values; sampled every second or every day) that its own past does not explain.
It is *online*: every statistic used for a point comes from strictly earlier points, so ``detect(series[:k])``
gives the first ``k`` rows of ``detect(series)`` and a verdict never changes when later data arrives.

Model, per point t of the series' regular grid (its median sampling step):

* **expected** E_t = level_t + S_t. The level is the median of the last ``level_window`` deseasonalised values
  (24 points, or two hours of points when that is more): robust to outliers, and a level shift becomes the new
  normal after half the window -- flagged at its start, not forever. S_t is a seasonal profile, the median of
  the same phase over the last 3-5 cycles of the values detrended by a centred one-period median (smoothed
  over +-1/96 of the period).
* **seasonality chosen from the data**: the candidates are none, daily and weekly (whichever fit the sampling
  step). A seasonal model becomes available after three cycles and a half of history and replaces the simpler
  one, point by point, where its one-step-ahead errors over the last comparison window (the scale window, at
  least one period) are smaller. Nothing is assumed: a series without a daily cycle keeps the level model.
* **scale** s_t: the square root of the mean of two variance estimates of the next residual, a robust one
  (1.4826 x the median |residual| over ``4 x level_window`` points: the typical noise) and a recent one (the
  mean squared residual over the last ``level_window`` points: volatility clusters, so a burst raises one alarm
  and its aftermath none). It is floored at a tenth of its long-run value (a stuck sensor is not calm), at half
  a unit for integer-valued series (a count cannot be known better than its resolution) and at 1 on the
  variance-stabilised scale for ``variance="poisson"``.
* **score** z_t = (y_t - E_t) / s_t, signed (negative = below expectation).
* **thresholds from a false-alarm budget**: ``budget`` false episodes (runs of consecutive flags) per series per
  ``budget_period`` fix a rate per point (budget x step / period, half per side), and each side's threshold is
  the largest of: 3; the Student-t quantile at that rate with the scale estimate's degrees of freedom (a
  short history gets a wider band, it is not silent); the t quantile with the tail weight fitted to the
  series' own past scores (a light-tailed series gets near-Gaussian thresholds, a spiky one higher ones); and
  the empirical quantile of its past episode peaks at the budget's rate once the history holds enough of
  them. Heavy-tailed series so self-calibrate, and nothing is fitted to labels (see ``_threshold``).

The default budget is 3 false episodes per series per 30 days. On the real, labelled development benchmark
the measured rate of flag runs outside labelled windows follows the budget closely (1 -> 1.6, 2 -> 2.4,
3 -> 3.0 per 30 days; labels are not exhaustive, so part of those are real); see BENCHMARKS.md. Pass
``threshold`` instead for a fixed threshold in score units (the incidents pipeline does: it has its own
budget across the many series of a metric and confirms incidents itself).

Warm-up: a band exists from the 4th point or so, very wide at first (Student-t with one or two degrees of
freedom) and narrowing as history accumulates; seasonal models join after 3.5 cycles. Gaps, missing values,
+/-inf (treated as missing), repeated timestamps (each row scored against its timestamp's band), unsorted
rows and constant stretches are handled; a series of 0, 1 or 2 points gets a frame of NaN bands, no flags.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from pintel.incidents.robust._model import (
    MAX_CYCLES,
    MIN_CYCLES,
    Floors,
    Windows,
    choose,
    fit_model,
    floored,
    trailing,
)
from pintel.incidents.robust._series import periods_per, to_grid, validate
from pintel.incidents.robust._threshold import side_thresholds

__all__ = ["DEFAULT_BUDGET", "RESULT_COLUMNS", "detect"]

RESULT_COLUMNS: tuple[str, ...] = ("expected", "lower", "upper", "score", "is_anomaly")
DEFAULT_BUDGET = 3.0  # false episodes per series per budget period
Variance = Literal["auto", "poisson", "constant"]

_DAY = pd.Timedelta(days=1)
_WEEK = pd.Timedelta(days=7)
_MIN_LEVEL_POINTS = 24
_LEVEL_SPAN = pd.Timedelta(hours=2)
_MIN_POINTS = 3
_MIN_MEMORY = 1000
_MAX_RATE = 0.01  # never more than one alarm per 100 points, whatever the budget
_ANSCOMBE_SHIFT = 3.0 / 8.0


def _empty(index: pd.Index) -> pd.DataFrame:
    nan = np.full(len(index), np.nan)
    return pd.DataFrame(
        {"expected": nan, "lower": nan, "upper": nan, "score": nan, "is_anomaly": np.zeros(len(index), bool)},
        index=index,
    )


def _check_options(budget: float, threshold: float | None, variance: str, min_cycles: int, max_cycles: int) -> None:
    if not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of false episodes per period, got {budget!r}")
    if threshold is not None and not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
    if variance not in ("auto", "poisson", "constant"):
        raise ValueError(f"variance must be 'auto', 'poisson' or 'constant', got {variance!r}")
    if not 1 <= min_cycles <= max_cycles:
        raise ValueError("need 1 <= min_cycles <= max_cycles")


def _transform(variance: str, values: np.ndarray):
    """Forward and inverse transforms: identity, or Anscombe's 2 sqrt(x + 3/8) for Poisson counts."""
    if variance != "poisson":
        return (lambda v: v), (lambda v: v)
    if np.any(values[~np.isnan(values)] < 0):
        raise ValueError("variance='poisson' needs non-negative values; the series has negative values")
    return (
        lambda v: 2.0 * np.sqrt(np.maximum(v, 0.0) + _ANSCOMBE_SHIFT),
        lambda v: np.maximum((np.maximum(v, 0.0) / 2.0) ** 2 - _ANSCOMBE_SHIFT, 0.0),
    )


def detect(
    series: pd.Series,
    *,
    budget: float = DEFAULT_BUDGET,
    budget_period: str | pd.Timedelta = "30D",
    threshold: float | None = None,
    freq: str | pd.Timedelta | None = None,
    periods: tuple[int, ...] | list[int] | None = None,
    level_window: int | None = None,
    scale_window: int | None = None,
    variance: Variance = "auto",
    volatility: bool = True,
    min_cycles: int = MIN_CYCLES,
    max_cycles: int = MAX_CYCLES,
) -> pd.DataFrame:
    """Flag the points of ``series`` that its own past does not explain (see the module docstring).

    Args:
        series: values on a DatetimeIndex (any order; repeated timestamps, NaN and +/-inf allowed).
        budget: false episodes (runs of consecutive flags) allowed per series per ``budget_period``.
        budget_period: the period of the budget (default 30 days).
        threshold: a fixed threshold on ``|score|`` instead of the budget (widened on a short history only).
        freq: sampling step; default the median spacing of the timestamps. Pass it when comparing a very short
            prefix with the full series.
        periods: seasonal periods (in points) to consider; default one day and one week when they hold at
            least 4 points. ``()`` for none.
        level_window: points in the level median (default 24, or two hours of points when more); a level shift
            is absorbed after ``level_window // 2 + 1`` points.
        scale_window: points behind the robust scale (default ``4 * level_window``).
        variance: ``"auto"`` (values as they are, half-unit floor for integer-valued series), ``"poisson"``
            (counts: Anscombe variance-stabilised, unit-variance floor) or ``"constant"`` (no floor).
        volatility: include the recent variance in the scale (default). Without it a sustained incident stays
            flagged point after point until the level absorbs it, which a pipeline that wants persistent
            evidence before raising an incident (``pintel.incidents``) prefers to one alarm per burst.
        min_cycles / max_cycles: cycles of history a seasonal profile needs / uses (3 and 5).

    Returns:
        A frame on the input's index with ``expected``, ``lower``, ``upper`` (the band, in the series' units),
        ``score`` (signed standardised residual; NaN for a missing value or before the first band) and
        ``is_anomaly`` (outside the band). ``attrs``: ``freq``, ``periods`` (candidates), ``season`` (the
        model in use at the last point: "none", "daily", "weekly", "daily + weekdays"), ``level_window``,
        ``adaptation_points``, ``budget``, ``threshold``, ``warmup_end`` (first timestamp with a band) and
        ``non_finite`` (inf values ignored).

    Raises:
        ValueError: not a Series, no DatetimeIndex, non-numeric values, or invalid options.
    """
    series = validate(series)
    _check_options(budget, threshold, variance, min_cycles, max_cycles)
    grid = to_grid(series, freq)
    result = _empty(series.index)
    step = grid.step
    per_day, per_week = periods_per(step, _DAY), periods_per(step, _WEEK)
    candidates = periods if periods is not None else [round(p) for p in (per_day, per_week) if p >= 4]
    candidates = tuple(sorted({int(p) for p in candidates if int(p) > 1}))
    level = int(level_window or max(_MIN_LEVEL_POINTS, round(periods_per(step, _LEVEL_SPAN))))
    if level < 2 or (scale_window is not None and scale_window < 2):
        raise ValueError("level_window and scale_window must be at least 2")
    result.attrs.update(
        freq=None if step is None else str(step),
        periods=candidates,
        season="none",
        level_window=level,
        adaptation_points=level // 2 + 1,
        budget=f"{budget:g} per {pd.Timedelta(budget_period)}",
        threshold=threshold,
        warmup_end=None,
        non_finite=grid.non_finite,
    )
    forward, inverse = _transform(variance, grid.values)
    y = forward(grid.values)
    n = len(y)
    if n < _MIN_POINTS:
        return result
    period_points = periods_per(step, pd.Timedelta(budget_period))
    memory = max(round(period_points), _MIN_MEMORY)
    win = Windows(
        level, scale_window or 4 * level, level if volatility else 0, memory, _MIN_POINTS, min_cycles, max_cycles
    )
    floor = np.nan_to_num(1e-6 * trailing(np.abs(y), level, 1, "median"), nan=0.0) + 1e-12
    if variance == "poisson":
        floor = np.maximum(floor, 1.0)
    elif variance == "auto":
        observed = ~np.isnan(y)
        integers = np.r_[True, np.logical_and.accumulate(~observed | (y == np.round(y)))[:-1]]
        # counts: half a unit of resolution, and Poisson noise (sqrt of the recent mean) once they vary
        floor = np.where(integers, np.maximum(floor, 0.5), floor)
        counts = np.sqrt(np.maximum(trailing(y, level, 1, "mean"), 0.0) + 0.25)
        floors = Floors(floor, np.where(integers, counts, 0.0))
    if variance != "auto":
        floors = Floors(floor)
    fits = [fit_model(y, 1, win)]
    for period in candidates:
        if n > (min_cycles + 0.5) * period:
            fits.append(fit_model(y, period, win))
        if 7 * period in candidates and n > max(min_cycles + 0.5, 8.5) * period:
            fits.append(fit_model(y, period, win, days=grid.calendar_days()))
    fit, chosen = choose(fits, y, win.scale)
    scale = floored(fit.scale, y - fit.expected, win, floors)
    score = (y - fit.expected) / scale
    rate = min(budget / period_points, _MAX_RATE) if period_points > 0 else _MAX_RATE
    lower_z, upper_z = side_thresholds(score, fit.n_scale, rate, memory, max(1, level // 2), threshold, win.scale)

    pos = grid.row_pos
    take = np.where(pos >= 0, pos, 0)
    expected, scale = fit.expected[take], scale[take]
    ready = (pos >= 0) & np.isfinite(expected) & np.isfinite(scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_score = np.where(ready, (forward(grid.row_values) - expected) / np.where(ready, scale, 1.0), np.nan)
    lo, hi = lower_z[take], upper_z[take]
    result["expected"] = np.where(ready, inverse(expected), np.nan)
    result["lower"] = np.where(ready, inverse(expected - lo * scale), np.nan)
    result["upper"] = np.where(ready, inverse(expected + hi * scale), np.nan)
    result["score"] = row_score
    z = np.nan_to_num(row_score, nan=0.0)
    result["is_anomaly"] = ready & ((z > hi) | (z < -lo))
    if ready.any():
        result.attrs["warmup_end"] = series.index[ready][np.argmin(series.index[ready])]
    names = {f"period {round(per_day)}": "daily", f"period {round(per_week)}": "weekly"}
    names[f"period {round(per_day)} + weekdays"] = "daily + weekdays"
    result.attrs["season"] = names.get(chosen, chosen)
    return result
