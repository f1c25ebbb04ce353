"""Expected value and scale on the regular grid, for each seasonality candidate, and the choice among them.

Everything here is causal: the value at grid point ``t`` uses points strictly before ``t`` only (the seasonal
profile uses a centred window around a point ``P`` or more steps back, whose right end is still in the past).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826  # sigma = 1.4826 * median|x| for a centred Gaussian
MEAN_ABS_TO_SIGMA = 1.2533  # sigma = 1.2533 * mean|x|
MIN_CYCLES = 3  # a same-phase median of 3 cycles ignores one bad cycle; 2 would be a mean
MAX_CYCLES = 5
PHASE_BINS = 96  # the profile is smoothed over +-1/96 of its period (+-15 min of a day): not finer than that
SIGNIFICANCE = 2.0  # a richer model must beat the current one by two standard errors (a paired test)
FLOOR_SHARE = 0.1  # the scale never falls below a tenth of its long-run value (a stuck sensor is not calm)


@dataclass(frozen=True)
class Fit:
    """One model's one-step-ahead prediction on the grid: expected value, scale and its support."""

    period: int  # the longest cycle the model looks back over (1: none)
    expected: np.ndarray
    scale: np.ndarray
    n_scale: np.ndarray  # residuals behind the robust part of the scale (its degrees of freedom)
    name: str = "none"


def trailing(values: np.ndarray, window: int, min_periods: int, how: str) -> np.ndarray:
    """Rolling statistic over the ``window`` points strictly before each position (NaNs skipped)."""
    rolled = getattr(pd.Series(values).rolling(window, min_periods=min_periods), how)()
    return rolled.shift(1).to_numpy(dtype=float)


def _centred(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    return pd.Series(values).rolling(window, center=True, min_periods=min_periods).median().to_numpy(dtype=float)


def seasonal_profile(
    y: np.ndarray, period: int, min_cycles: int = MIN_CYCLES, max_cycles: int = MAX_CYCLES
) -> np.ndarray:
    """Seasonal component S_t: median over the last 3-5 cycles of the detrended, phase-smoothed values.

    Detrending is by a centred rolling median over one period, smoothing by a centred median over
    +-period/96 points; both windows around point s end before s + period, so S_t only uses the past. NaN
    until three cycles are available.
    """
    n = len(y)
    trend = _centred(y, period, max(period // 2, 1))
    detrended = y - trend
    half = period // PHASE_BINS
    if half > 0:
        detrended = _centred(detrended, 2 * half + 1, 1)
    stacked = np.full((max_cycles, n), np.nan)
    for k in range(1, max_cycles + 1):
        lag = k * period
        if lag < n:
            stacked[k - 1, lag:] = detrended[: n - lag]
    count = (~np.isnan(stacked)).sum(axis=0)
    return np.where(count >= min_cycles, trimmed_mean(stacked), np.nan)


def trimmed_mean(stacked: np.ndarray) -> np.ndarray:
    """Column-wise mean without the largest and smallest value (the median for 3 values or fewer).

    With 4-5 cycles it is nearly as efficient as the mean on clean data and still ignores one bad cycle on
    each side, where a median of so few values is noisy (efficiency ~ 2/pi).
    """
    count = (~np.isnan(stacked)).sum(axis=0)
    # All-NaN columns stay NaN and are left out of the reductions rather than having NumPy's warning silenced:
    # warnings.catch_warnings is not thread-safe, and dbt runs Python models on several threads.
    some = count > 0
    part, n = stacked[:, some], count[some]
    trimmed = (np.nansum(part, axis=0) - np.nanmax(part, axis=0) - np.nanmin(part, axis=0)) / np.maximum(n - 2, 1)
    out = np.full(stacked.shape[1], np.nan)
    out[some] = np.where(n >= 4, trimmed, np.nanmedian(part, axis=0))
    return out


@dataclass(frozen=True)
class Windows:
    """Window lengths in grid points: the level median, the robust scale, the recent volatility (0: none), the
    memory of the long-run scale and of the threshold calibration."""

    level: int
    scale: int
    volatility: int
    memory: int
    min_points: int
    min_cycles: int = MIN_CYCLES
    max_cycles: int = MAX_CYCLES


@dataclass(frozen=True)
class Floors:
    """Lower bounds of the scale per point: ``always``, and ``once_noisy`` where the series has varied at all
    within the memory (a Poisson floor would hide the first departure of a series that was constant)."""

    always: np.ndarray
    once_noisy: np.ndarray | None = None


def scale_of(residual: np.ndarray, win: Windows) -> tuple[np.ndarray, np.ndarray]:
    """Scale of the next residual: sqrt of the mean of a robust and a recent variance estimate.

    * robust: 1.4826 x the trailing median |r| over ``win.scale`` points (1.2533 x mean |r| where most
      residuals are exactly 0, as in sparse or quantised series): the typical noise, blind to outliers;
    * recent: the variance of the last ``win.volatility`` residuals, outliers included: volatility clusters
      (after a shock the next points are less predictable), so a burst raises one alarm and not one per
      spike, and its aftermath (the level catching up) is not a second one. It is taken around the recent
      mean residual: a sustained shift is not volatility, and stays flagged until the level absorbs it.

    Under Gaussian noise both estimate the same variance, so the z-score stays standardised. Returns the
    scale (before :func:`floored`) and the number of residuals behind its robust part.
    """
    absolute = np.abs(residual)
    robust = MAD_TO_SIGMA * trailing(absolute, win.scale, win.min_points, "median")
    mean_abs = MEAN_ABS_TO_SIGMA * trailing(absolute, win.scale, win.min_points, "mean")
    robust = np.where(robust > 0, robust, mean_abs)
    recent = trailing(residual, win.volatility, win.min_points, "var") if win.volatility else None
    scale = robust if recent is None else np.sqrt(0.5 * (robust**2 + np.where(np.isnan(recent), robust**2, recent)))
    count = trailing((~np.isnan(absolute)).astype(float), win.scale, 1, "sum")
    return scale, np.nan_to_num(count)


def floored(scale: np.ndarray, residual: np.ndarray, win: Windows, floors: Floors) -> np.ndarray:
    """The scale floored by ``floors`` and by a tenth of its long-run value (the robust scale over
    ``win.memory`` points), so a stretch of identical values does not make every later wiggle infinitely
    surprising."""
    absolute = np.abs(residual)
    long_run = MEAN_ABS_TO_SIGMA * trailing(absolute, win.memory, win.min_points, "mean")
    long_med = MAD_TO_SIGMA * trailing(absolute, win.memory, win.min_points, "median")
    long_run = np.nan_to_num(np.where(long_med > 0, long_med, long_run))
    out = np.fmax(scale, FLOOR_SHARE * long_run)
    if floors.once_noisy is not None:
        out = np.where(long_run > 0, np.fmax(out, floors.once_noisy), out)
    return np.where(np.isnan(scale), np.nan, np.maximum(out, floors.always))


def weekday_levels(y: np.ndarray, day: int, days: np.ndarray, max_cycles: int = MAX_CYCLES) -> np.ndarray:
    """Weekday effect W_t: how a calendar day's level differs from its week's, at the same phase of past weeks.

    A day's level is the median of its own values (``days`` gives each point's calendar day, so a weekend
    starts at midnight, not gradually), the week's a centred one-week median; their difference at point s is
    known half a week after s, so W_t (median over the last 1-5 weeks at t's phase) uses the past only.
    Whole-day medians shrug off short anomalies, so one past week is enough: weekends are modelled from the
    second week on, long before three weekly cycles of a full weekly profile exist.
    """
    week = 7 * day
    n = len(y)
    ids = days - days[0]
    frame = pd.DataFrame({"day": ids, "y": y})
    grouped = frame.groupby("day")["y"]
    enough = grouped.transform("count") >= max(day // 2, 1)
    day_level = grouped.transform("median").where(enough).to_numpy(dtype=float)
    effect = day_level - _centred(y, week, max(week // 2, 1))
    stacked = np.full((max_cycles, n), np.nan)
    for k in range(1, max_cycles + 1):
        if k * week < n:
            stacked[k - 1, k * week :] = effect[: n - k * week]
    return trimmed_mean(stacked)


def fit_model(y: np.ndarray, period: int, win: Windows, days: np.ndarray | None = None) -> Fit:
    """Expected value E_t = level_t + S_t (+ W_t) and the scale of the one-step-ahead residuals y_t - E_t.

    The level is the trailing median of the deseasonalised values over ``win.level`` points: robust to
    outliers (50 % breakdown) and absorbing a level shift after half the window. With ``days`` (each point's
    calendar day, ``period`` being a day), a weekday effect (:func:`weekday_levels`) is removed first.
    """
    weekday = weekday_levels(y, period, days, win.max_cycles) if days is not None else np.zeros(len(y))
    adjusted = y - weekday
    profile = seasonal_profile(adjusted, period, win.min_cycles, win.max_cycles) if period > 1 else 0.0 * y
    level = trailing(adjusted - profile, win.level, win.min_points, "median")
    expected = level + profile + weekday
    scale, n_scale = scale_of(y - expected, win)
    if period <= 1:
        return Fit(1, expected, scale, n_scale)
    if days is not None:
        return Fit(7 * period, expected, scale, n_scale, f"period {period} + weekdays")
    return Fit(period, expected, scale, n_scale, f"period {period}")


def choose(fits: list[Fit], y: np.ndarray, window: int) -> tuple[Fit, str]:
    """Per point, the model with the smallest recent one-step-ahead error, compared on the same points.

    Candidates are tried from the simplest on. The comparison window spans the longest candidate period (at
    least ``window`` points), so a weekly pattern is judged on a whole week, weekend included; the error is
    the mean |residual| on the points where both models predicted (the median would overlook a model that
    is wrong two days a week). A candidate replaces the current choice where it has at least
    ``min(window, period)`` residuals of its own and its mean |residual| is smaller by more than two standard
    errors of the paired differences (the Diebold-Mariano test): a seasonal model is adopted because the
    data show the cycle, not because chance favoured it. Returns the composite fit and the chosen
    model's name at the last point.
    """
    best = fits[0]
    chosen = np.zeros(len(y), dtype=np.int64)
    compare = max([window, *(f.period for f in fits)])
    for index, cand in enumerate(fits[1:], start=1):
        have = ~np.isnan(cand.expected) & ~np.isnan(y)
        if not have.any():
            continue
        support = trailing(have.astype(float), compare, 1, "sum")
        gain = np.where(have, np.abs(y - cand.expected) - np.abs(y - best.expected), np.nan)
        mean_gain = trailing(gain, compare, 2, "mean")
        noise = trailing(gain, compare, 2, "std") / np.sqrt(np.maximum(support, 1.0))
        significant = mean_gain < -SIGNIFICANCE * np.nan_to_num(noise)
        better = (support >= min(window, cand.period)) & significant & ~np.isnan(cand.scale)
        if not better.any():
            continue
        best = Fit(
            0,
            np.where(better, cand.expected, best.expected),
            np.where(better, cand.scale, best.scale),
            np.where(better, cand.n_scale, best.n_scale),
        )
        chosen = np.where(better, index, chosen)
    return best, fits[int(chosen[-1])].name if len(y) else "none"
