"""Input handling for the robust detector: validation, the regular grid, and mapping results back to the rows.

Real exports are messy: repeated timestamps, unsorted rows, gaps, NaN and +/-inf, jittered clocks. The detector
works on a regular grid at the series' typical sampling step; this module builds it and remembers, for every input
row, which grid point it belongs to, so that the result can be returned indexed exactly like the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A grid much longer than the number of distinct timestamps means one huge gap (a sensor off for a year) or an
# irregular clock: the series is then treated as sequential points rather than allocating the empty grid.
_GRID_SPARSITY = 8
_GRID_SLACK = 100_000


@dataclass(frozen=True)
class Grid:
    """A series on its regular sampling grid.

    ``values`` has one float per grid point (NaN where nothing was observed; the mean where several rows fall on
    one point). ``row_pos`` gives each input row's grid position (-1 for a row without a timestamp) and
    ``row_values`` its own finite value (NaN otherwise), so repeated timestamps are scored one by one.
    """

    values: np.ndarray
    step: pd.Timedelta | None
    row_pos: np.ndarray
    row_values: np.ndarray
    regular: bool
    non_finite: int
    start: int = 0  # first timestamp, ns since the epoch (UTC for an aware index)

    def calendar_days(self) -> np.ndarray:
        """Calendar day (UTC days since the epoch) of each grid point; positional days off a regular grid."""
        day = pd.Timedelta(days=1).value
        positions = np.arange(len(self.values), dtype=np.int64)
        if self.step is None or not self.regular:
            return positions // max(round(periods_per(self.step, pd.Timedelta(days=1))), 1)
        return (self.start + positions * self.step.value) // day


def numeric_values(series: pd.Series) -> np.ndarray:
    """Float values of a series; non-numeric text raises a ValueError that names the first bad value."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        where = series.index[bad.to_numpy()][0]
        raise ValueError(f"series values must be numeric; got {series[bad].iloc[0]!r} at {where}")
    return converted.to_numpy(dtype=float, na_value=np.nan)


def validate(series: object) -> pd.Series:
    if not isinstance(series, pd.Series):
        raise ValueError(f"detect() expects a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"series must have a DatetimeIndex, got {type(series.index).__name__}")
    return series


def infer_step(stamps: np.ndarray, freq: str | pd.Timedelta | None = None) -> pd.Timedelta | None:
    """Sampling step: ``freq`` when given, else the median spacing of the distinct timestamps (robust to gaps)."""
    if freq is not None:
        try:
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
        except (ValueError, TypeError):
            try:
                step = pd.Timedelta(freq)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"freq {freq!r} is not a fixed-length frequency") from exc
        if step <= pd.Timedelta(0):
            raise ValueError(f"freq must be positive, got {freq!r}")
        return step
    if len(stamps) < 2:
        return None
    return pd.Timedelta(int(np.median(np.diff(stamps))), unit="ns")


def to_grid(series: pd.Series, freq: str | pd.Timedelta | None = None) -> Grid:
    """Place the rows of ``series`` on a regular grid (see :class:`Grid`)."""
    values = numeric_values(series)
    finite = np.isfinite(values)
    non_finite = int((~np.isnan(values) & ~finite).sum())
    values = np.where(finite, values, np.nan)
    stamps = series.index.as_unit("ns").asi8.astype(np.int64)
    has_time = ~np.asarray(series.index.isna())
    distinct = np.unique(stamps[has_time])
    step = infer_step(distinct, freq)
    row_pos = np.full(len(series), -1, dtype=np.int64)
    regular = step is not None
    if len(distinct) == 0:
        return Grid(np.zeros(0), step, row_pos, values, False, non_finite)
    if step is None:
        row_pos[has_time] = 0
        size = 1
    else:
        offset = stamps[has_time] - distinct[0]
        pos = np.round(offset / step.value).astype(np.int64)
        size = int(pos.max()) + 1
        if size > _GRID_SPARSITY * len(distinct) + _GRID_SLACK:
            pos, size, regular = np.searchsorted(distinct, stamps[has_time]), len(distinct), False
        row_pos[has_time] = pos
    grid = np.full(size, np.nan)
    usable = (row_pos >= 0) & ~np.isnan(values)
    if usable.any():
        sums = np.bincount(row_pos[usable], weights=values[usable], minlength=size)
        counts = np.bincount(row_pos[usable], minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Grid(grid, step, row_pos, values, regular, non_finite, int(distinct[0]))


def periods_per(step: pd.Timedelta | None, span: pd.Timedelta) -> float:
    """How many grid points one ``span`` (a day, a week) holds; 0 when unknown."""
    if step is None or step <= pd.Timedelta(0):
        return 0.0
    return span / step
