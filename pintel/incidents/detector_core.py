"""The numerical core of :mod:`pintel.incidents.detector`: configuration and numpy arrays on the regular grid.

Split from the detector's public entry points so that each file stays readable: this module knows nothing of
pandas indexes, timestamps or input validation, only of one regular grid of float values (NaN = missing) and
the resolved :class:`DetectorConfig`. The model and every choice in it are explained in
:mod:`pintel.incidents.detector`'s docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["DetectorConfig", "Variance", "detect_grid", "resolve_config"]

Variance = Literal["auto", "poisson", "constant"]

_MAD_TO_SIGMA = 1.4826  # median(|N(0,1)|) = 0.6745
_MEAN_ABS_TO_SIGMA = 1.2533  # mean(|N(0,1)|) = 0.7979
_ANSCOMBE_SHIFT = 3.0 / 8.0
_SHRINK_EVENTS = 2.0  # pseudo-events pulling count seasonal factors towards 1 (see _seasonal_factor)
# sd of the MAD-based sigma estimate from n Gaussian residuals is 1.167 sigma / sqrt(n) (asymptotic variance of a
# sample median: 1 / (4 n f(m)^2), m = 0.6745 sigma the median of |u|, f(m) its density 0.6356 / sigma)
_MAD_SIGMA_SE = 1.167
_SIGNIFICANCE = 2.0  # a level-dependent variance is adopted when it beats the pooled one by two standard errors
_DAY = pd.Timedelta(days=1)
_WEEK = pd.Timedelta(days=7)


# ------------------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorConfig:
    """Resolved detector parameters for one series (derived from the sampling step unless overridden).

    ``warmup`` is the number of gap-free grid points before the first point that gets a band (247 for
    hourly data, 33 for daily data, 18 without seasonality); see the module docstring.
    """

    step: pd.Timedelta | None
    periods: tuple[int, ...]
    level_window: int
    max_cycles: int
    min_cycles: int
    scale_window: int
    scale_min_periods: int
    threshold: float
    variance: Variance

    @property
    def level_min_periods(self) -> int:
        return self.level_window // 2 + 1

    @property
    def provisional_min_periods(self) -> int:
        """Residuals needed before a provisional (shorter-period) point is scored: one whole longest cycle."""
        longest = max(self.periods, default=0)
        return max(self.scale_min_periods, min(longest, self.scale_window))

    @property
    def warmup(self) -> int:
        if not self.periods:
            return self.level_min_periods + self.scale_min_periods
        shortest = min(self.periods)
        # first centred average with 3/4 of its window, min_cycles cycles of ratios, the level window,
        # then enough residuals for the scale (a whole longest cycle while provisional)
        first_ratio = (3 * shortest) // 4 - (shortest - shortest // 2)
        needed = self.provisional_min_periods if len(self.periods) > 1 else self.scale_min_periods
        return max(first_ratio, 0) + self.min_cycles * shortest + self.level_min_periods + needed


def _periods_for_step(step: pd.Timedelta | None) -> tuple[int, ...]:
    """Seasonal periods (in points) implied by the sampling step: one day and one week when they are whole."""
    if step is None or step <= pd.Timedelta(0):
        return ()
    periods = []
    for span in (_DAY, _WEEK):
        ratio = span / step
        if ratio > 1 and abs(ratio - round(ratio)) < 1e-9:
            periods.append(round(ratio))
    return tuple(sorted(set(periods)))


def resolve_config(
    step: pd.Timedelta | None,
    *,
    threshold: float,
    periods: Sequence[int] | None,
    level_window: int | None,
    max_cycles: int,
    min_cycles: int,
    scale_window: int | None,
    scale_min_periods: int | None,
    variance: Variance,
) -> DetectorConfig:
    explicit = tuple(sorted({int(p) for p in periods if int(p) > 1})) if periods is not None else None
    resolved = _periods_for_step(step) if explicit is None else explicit
    points_per_week = round(_WEEK / step) if step is not None and step > pd.Timedelta(0) else 0
    if level_window is not None:
        level = level_window
    elif resolved:
        # Two days + 1 point for intraday data (a day-long incident stays flagged, a level shift is absorbed
        # after ~1 day); one week for daily data (absorbed after 4 days). Odd, so that right after a
        # day-long incident the window holds a strict majority of normal points and the recovery is not
        # flagged as the opposite anomaly.
        per_day = round(_DAY / step) if step is not None and step > pd.Timedelta(0) else 0
        level = 2 * min(resolved) + 1 if min(resolved) == per_day else min(resolved)
    else:
        level = 7
    window = scale_window if scale_window is not None else max(points_per_week, 28)
    min_periods = scale_min_periods if scale_min_periods is not None else max(min(resolved, default=0), 14)
    if not (threshold > 0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
    if level < 2 or window < 2 or min_periods < 1 or min_periods > window:
        raise ValueError("level_window and scale_window must be >= 2 and 1 <= scale_min_periods <= scale_window")
    if not 1 <= min_cycles <= max_cycles:
        raise ValueError("need 1 <= min_cycles <= max_cycles")
    if variance not in ("auto", "poisson", "constant"):
        raise ValueError(f"variance must be 'auto', 'poisson' or 'constant', got {variance!r}")
    return DetectorConfig(
        step=step,
        periods=resolved,
        level_window=int(level),
        max_cycles=int(max_cycles),
        min_cycles=int(min_cycles),
        scale_window=int(window),
        scale_min_periods=int(min_periods),
        threshold=float(threshold),
        variance=variance,
    )


# ------------------------------------------------------------------------------------------------------------
# core computation (numpy arrays on the regular grid)
# ------------------------------------------------------------------------------------------------------------


def _trailing(values: np.ndarray, window: int, min_periods: int, how: str) -> np.ndarray:
    """Rolling statistic over the ``window`` points strictly before each position (NaNs skipped)."""
    rolled = getattr(pd.Series(values).rolling(window, min_periods=min_periods), how)()
    return rolled.shift(1).to_numpy(dtype=float)


def _lagged_cycles(values: np.ndarray, period: int, cycles: int) -> np.ndarray:
    """Rows k = 0..cycles-1 hold values[t - (k+1)*period] at column t (NaN before the series starts)."""
    n = len(values)
    stacked = np.full((cycles, n), np.nan)
    for k in range(1, cycles + 1):
        lag = k * period
        if lag < n:
            stacked[k - 1, lag:] = values[: n - lag]
    return stacked


def _seasonal_ratios(y: np.ndarray, period: int, multiplicative: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ratio (or difference) of each value to its centred moving average over one ``period``, and the average.

    The centred moving average is the classical-decomposition trend: it removes that cycle exactly and
    averages ``period`` points (a median of a seasonal window would be as noisy as a single point). It
    stays causal: q_s is only used at t >= s + period, after its window has ended.
    """
    ref = pd.Series(y).rolling(period, center=True, min_periods=max(1, (3 * period) // 4)).mean().to_numpy()
    if not multiplicative:
        return y - ref, ref
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(ref > 0, y / ref, np.where((ref == 0) & (y == 0), 1.0, np.nan))
    return q, ref


def _nanmedian_columns(stacked: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Column-wise median ignoring NaN; NaN where a column has no value.

    The all-NaN columns are left out instead of silencing NumPy's warning: ``warnings.catch_warnings`` is not
    thread-safe, and dbt runs Python models on several threads, so a silenced warning leaked into build logs.
    """
    median = np.full(stacked.shape[1], np.nan)
    some = count > 0
    median[some] = np.nanmedian(stacked[:, some], axis=0)
    return median


def _seasonal_factor(
    y: np.ndarray, cfg: DetectorConfig, multiplicative: bool, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal factor F_t = median of the same-phase ratios of the last ``max_cycles`` cycles.

    The longest candidate period with at least ``min_cycles`` usable cycles wins, point by point. Points
    that have to use a shorter period are *provisional* (their residuals contain the unmodelled longer
    cycle, e.g. weekends while only the daily profile is known).

    For counts the factor is shrunk towards 1 by ``_SHRINK_EVENTS`` pseudo-events: F = (F_med * R + k) /
    (R + k), R being the expected events behind the ratios. With hundreds of events per point this changes
    nothing; for sparse series (0.2 events/hour) a single event would otherwise make a ratio of 5 and the
    baseline would swing wildly.
    """
    factor = np.full(len(y), np.nan)
    provisional = np.zeros(len(y), dtype=bool)
    longest = max(cfg.periods)
    for period in sorted(cfg.periods, reverse=True):
        q, ref = _seasonal_ratios(y, period, multiplicative)
        stacked = _lagged_cycles(q, period, cfg.max_cycles)
        valid = ~np.isnan(stacked)
        count = valid.sum(axis=0)
        median = _nanmedian_columns(stacked, count)
        if multiplicative and counts.any():
            events = np.where(valid, _lagged_cycles(ref, period, cfg.max_cycles), 0.0).sum(axis=0)
            shrunk = (median * events + _SHRINK_EVENTS) / (events + _SHRINK_EVENTS)
            median = np.where(counts, shrunk, median)
        take = np.isnan(factor) & (count >= cfg.min_cycles)
        factor[take] = median[take]
        if period != longest:
            provisional |= take
    return factor, provisional


def _baseline(
    y: np.ndarray, cfg: DetectorConfig, multiplicative: bool, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected value per point from trailing data only (see the module docstring for the model).

    E_t = m_t * F_t where m_t is the median of the de-seasonalised values y_s / F_s over the last
    ``level_window`` points (additive: y_s - F_s and m_t + F_t). De-seasonalised values are exchangeable,
    so their median is both efficient and robust, and it moves to a new level after half a window.
    """
    if not cfg.periods:
        level = _trailing(y, cfg.level_window, cfg.level_min_periods, "median")
        return level, np.zeros(len(y), dtype=bool)
    factor, provisional = _seasonal_factor(y, cfg, multiplicative, counts)
    if not multiplicative:
        level = _trailing(y - factor, cfg.level_window, cfg.level_min_periods, "median")
        return level + factor, provisional
    with np.errstate(divide="ignore", invalid="ignore"):
        deseasonalised = np.where(factor > 0, y / factor, np.nan)
    level = _trailing(deseasonalised, cfg.level_window, cfg.level_min_periods, "median")
    # Sparse series (phases that are always zero) can leave no usable ratio: fall back to ratio of means.
    mean_y = _trailing(y, cfg.level_window, cfg.level_min_periods, "mean")
    mean_f = _trailing(factor, cfg.level_window, cfg.level_min_periods, "mean")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_of_means = mean_y / mean_f
    level = np.where(np.isnan(level) & (mean_f > 0), ratio_of_means, level)
    # Counts with more zeros than not (e.g. 0.3 events/hour) have a median of 0: their mean is the level.
    level = np.where(counts & (level == 0) & (mean_f > 0), ratio_of_means, level)
    expected = np.where(factor == 0, 0.0, level * factor)
    return expected, provisional


def _anscombe(x: np.ndarray) -> np.ndarray:
    return 2.0 * np.sqrt(np.maximum(x, 0.0) + _ANSCOMBE_SHIFT)


def _inverse_anscombe(v: np.ndarray) -> np.ndarray:
    return np.maximum((np.maximum(v, 0.0) / 2.0) ** 2 - _ANSCOMBE_SHIFT, 0.0)


def _prior_all(flags: np.ndarray) -> np.ndarray:
    """True at t when ``flags`` held for every observed point strictly before t."""
    return np.concatenate([[True], np.logical_and.accumulate(flags)[:-1]]) if len(flags) else flags


def _pooled_scale(abs_res: np.ndarray, cfg: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Trailing robust scale 1.4826 * median|u| (residuals are centred on 0 by design) and mean|u|."""
    med = _trailing(abs_res, cfg.scale_window, cfg.scale_min_periods, "median")
    mean = _trailing(abs_res, cfg.scale_window, cfg.scale_min_periods, "mean")
    # Mostly-zero residuals (sparse or constant series): fall back to the mean absolute residual.
    scale = _MAD_TO_SIGMA * med
    return np.where(scale > 0, scale, _MEAN_ABS_TO_SIGMA * mean), mean


def _level_dependent_scale(
    abs_res: np.ndarray, expected: np.ndarray, pooled: np.ndarray, cfg: DetectorConfig
) -> np.ndarray:
    """Scale of Anscombe residuals under the variance function Var(y) = a*E + b*E^2.

    After the Anscombe transform that is Var(u) = a + b*E: Poisson noise gives a = 1, b = 0 (one scale for
    peak and night), multiplicative noise (typical of high-volume business metrics) adds b > 0, so peaks
    get a wider band than troughs. a and b come from a two-point robust fit: the trailing residuals are
    split into low- and high-expected halves (each point classed against its own trailing median E) and
    each half gets a MAD. Where the halves are too close in level to tell (no seasonality), or the fit is
    degenerate, the pooled scale is used.

    The slope is adopted only where the data show it: the high half's variance must exceed the low half's by
    two standard errors of their difference (each half's MAD sigma has a standard error of 1.167 s / sqrt(n)).
    Otherwise the difference is sampling noise, and a line through two noisy points, extrapolated to the daily
    peak (often twice the high half's median level), inflates the band exactly where an outage costs most:
    on a Poisson-like hourly series of ~70 users at peak (8 000-user simulation, android) halves of 1.15 and
    1.40 (n = 67 / 101, difference 0.9 standard errors) gave 1.72 at the peak against a realised residual
    sd of 1.22 there, and a 60 % loss scored -4.1 instead of -5.6.
    """
    window, min_periods = cfg.scale_window, max(cfg.scale_min_periods // 2, 4)
    e_valid = np.where(np.isnan(abs_res), np.nan, expected)
    e_median = _trailing(e_valid, window, cfg.scale_min_periods, "median")
    high = e_valid >= np.nan_to_num(e_median, nan=np.inf)
    low = e_valid < np.nan_to_num(e_median, nan=-np.inf)
    halves = []
    for mask in (low, high):
        s_half = _MAD_TO_SIGMA * _trailing(np.where(mask, abs_res, np.nan), window, min_periods, "median")
        e_half = _trailing(np.where(mask, e_valid, np.nan), window, min_periods, "median")
        n_half = _trailing(np.where(mask, 1.0, np.nan), window, 1, "sum")
        halves.append((s_half, e_half, n_half))
    (s_lo, e_lo, n_lo), (s_hi, e_hi, n_hi) = halves
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.maximum((s_hi**2 - s_lo**2) / (e_hi - e_lo), 0.0)
        intercept = np.maximum(s_lo**2 - slope * e_lo, 0.0)
        fitted = np.sqrt(intercept + slope * np.maximum(expected, 0.0))
        # sd(s^2) = 2 s sd(s) = 2 * 1.167 s^2 / sqrt(n): the variances' difference must clear two of its sds
        noise = 2.0 * _MAD_SIGMA_SE * np.sqrt(s_lo**4 / n_lo + s_hi**4 / n_hi)
        shown = s_hi**2 - s_lo**2 > _SIGNIFICANCE * noise
    usable = shown & (e_hi > 1.2 * e_lo) & (s_lo > 0) & (s_hi > 0) & np.isfinite(fitted) & (fitted > 0)
    return np.where(usable, fitted, pooled)


def _score_pipeline(
    y: np.ndarray, cfg: DetectorConfig, *, multiplicative: bool, stabilise: bool, counts_so_far: np.ndarray
) -> dict[str, np.ndarray]:
    """Expected value, band and score for one model variant (multiplicative+Anscombe or additive+linear)."""
    expected, provisional = _baseline(y, cfg, multiplicative, counts_so_far)
    forward = _anscombe if stabilise else (lambda x: x)
    inverse = _inverse_anscombe if stabilise else (lambda v: v)
    g_expected = forward(expected)
    residual = forward(y) - g_expected  # NaN where y or expected is missing
    abs_res = np.abs(residual)
    scale, mean_abs = _pooled_scale(abs_res, cfg)
    if stabilise:
        scale = _level_dependent_scale(abs_res, expected, scale, cfg)
    if provisional.any():
        # Provisional points (hourly data with < 2 weeks of history, modelled with the daily period) have an
        # unmodelled longer cycle (weekends) in their residuals. That is systematic, not outliers: a robust
        # scale ignores it and would flag every weekend. The 95th percentile of |residual| over a window
        # spanning a whole longest cycle (every weekday seen once) does see it.
        q95 = pd.Series(abs_res).rolling(cfg.scale_window, min_periods=cfg.provisional_min_periods)
        full_cycle = q95.quantile(0.95).shift(1).to_numpy() / 1.96
        scale = np.where(provisional, np.maximum(scale, full_cycle), scale)
    if stabilise:
        # Poisson floor (unit variance after the Anscombe transform), skipped for an exactly constant history
        # (mean residual 0), where any departure is news and must be flagged.
        scale = np.where(counts_so_far & (mean_abs > 0), np.maximum(scale, 1.0), scale)
    tiny = np.maximum(1e-9 * np.abs(g_expected), 1e-12)
    scale = np.where(np.isnan(scale), np.nan, np.maximum(scale, tiny))
    ready = np.isfinite(expected) & np.isfinite(scale)
    nan = np.full(len(y), np.nan)
    half_width = cfg.threshold * scale
    return {
        "expected": np.where(ready, expected, nan),
        "lower": np.where(ready, inverse(g_expected - half_width), nan),
        "upper": np.where(ready, inverse(g_expected + half_width), nan),
        "score": np.where(ready, residual / scale, nan),
    }


def detect_grid(y: np.ndarray, cfg: DetectorConfig) -> dict[str, np.ndarray]:
    observed = ~np.isnan(y)
    nonneg_so_far = _prior_all(~observed | (y >= 0))
    ints_so_far = _prior_all(~observed | (y == np.round(y)))
    has_negative = bool(np.any(y[observed] < 0))
    if cfg.variance == "poisson" and has_negative:
        raise ValueError("variance='poisson' needs non-negative values; the series has negative values")
    counts = ints_so_far if cfg.variance == "auto" else np.full(len(y), cfg.variance == "poisson")
    out = _score_pipeline(y, cfg, multiplicative=True, stabilise=cfg.variance != "constant", counts_so_far=counts)
    if has_negative:
        # Once a negative value has been seen, ratios and square roots are meaningless: switch to the
        # additive, constant-variance model (computed over the whole series so its history is consistent).
        additive = _score_pipeline(
            y, cfg, multiplicative=False, stabilise=False, counts_so_far=np.zeros(len(y), dtype=bool)
        )
        for key in out:
            out[key] = np.where(nonneg_so_far, out[key], additive[key])
    score = out["score"]
    out["is_anomaly"] = observed & np.isfinite(score) & (np.abs(np.nan_to_num(score)) > cfg.threshold)
    out["score"] = np.where(observed, score, np.nan)
    return out
