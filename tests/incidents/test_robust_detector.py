"""Behavioural tests for pintel.incidents.robust on seeded synthetic series of the kinds real exports hold."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pintel.incidents.robust import RESULT_COLUMNS, detect


def _runs(flags: pd.Series) -> int:
    f = flags.to_numpy(dtype=bool)
    return int(f[:1].sum() + (f[1:] & ~f[:-1]).sum()) if len(f) else 0


def _daily(index: pd.DatetimeIndex, amplitude: float) -> np.ndarray:
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    return amplitude * np.sin(2 * np.pi * (hours - 8) / 24.0)


def _hourly_counts(days: int, seed: int, base: float = 300.0) -> pd.Series:
    idx = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    rate = base * (1 + 0.6 * np.sin(2 * np.pi * (idx.hour.to_numpy() - 8) / 24))
    return pd.Series(np.random.default_rng(seed).poisson(rate).astype(float), index=idx)


# --------------------------------------------------------------------------------------------------------------
# contract, causality, budget
# --------------------------------------------------------------------------------------------------------------


def test_contract_band_and_flags_agree() -> None:
    series = _hourly_counts(30, seed=1)
    series.iloc[600] *= 2.5
    result = detect(series)
    assert list(result.columns) == list(RESULT_COLUMNS)
    assert result.index.equals(series.index) and result["is_anomaly"].dtype == bool
    ready = result["expected"].notna()
    assert (result.loc[ready, "lower"] <= result.loc[ready, "expected"]).all()
    assert (result.loc[ready, "expected"] <= result.loc[ready, "upper"]).all()
    outside = (series < result["lower"]) | (series > result["upper"])
    assert (outside[ready] == result.loc[ready, "is_anomaly"]).all()
    assert result["is_anomaly"].iloc[600] and result["score"].iloc[600] > 0


def test_a_prefix_gives_exactly_the_same_rows() -> None:
    rng = np.random.default_rng(3)
    idx = pd.date_range("2024-01-01", periods=24 * 12 * 8, freq="5min")
    series = pd.Series(100 + _daily(idx, 20) + rng.normal(0, 2, len(idx)), index=idx)
    series.iloc[500:520] = np.nan
    series.iloc[1500] += 40
    series = series.drop(series.index[900:930])  # missing timestamps
    full = detect(series)
    for k in (50, 400, 1201, 1600, 2100):
        pd.testing.assert_frame_equal(detect(series.iloc[:k]), full.iloc[:k], check_exact=True)


def test_realised_false_episodes_follow_the_budget() -> None:
    """Clean noise of two kinds for 60 days at 5 minutes: false episodes within the budget, fewer when it is lower."""
    idx = pd.date_range("2024-01-01", periods=12 * 24 * 60, freq="5min")
    for seed, noise in ((0, "normal"), (1, "laplace")):
        values = getattr(np.random.default_rng(seed), noise)(0, 1, len(idx))
        series = pd.Series(50 + values, index=idx)
        loose, strict = detect(series, budget=3), detect(series, budget=0.5)
        assert _runs(loose["is_anomaly"]) <= 2 * 3 * 2  # 3 per 30 days over 60 days, with Poisson slack
        assert _runs(strict["is_anomaly"]) <= _runs(loose["is_anomaly"])
        assert _runs(strict["is_anomaly"]) <= 3


def _upper_threshold(series: pd.Series, result: pd.DataFrame) -> pd.Series:
    """The upper threshold in score units, recovered from the band: (upper - expected) / scale."""
    scale = (series - result["expected"]) / result["score"]
    return (result["upper"] - result["expected"]) / scale.where(result["score"].abs() > 0.1)


def test_heavy_tailed_series_self_calibrates_to_a_higher_threshold() -> None:
    idx = pd.date_range("2024-01-01", periods=12 * 24 * 20, freq="5min")
    rng = np.random.default_rng(7)
    light = pd.Series(30 + rng.normal(0, 1, len(idx)), index=idx)
    heavy = pd.Series(30 + rng.standard_t(3, len(idx)), index=idx)
    light_thr = float(_upper_threshold(light, detect(light)).iloc[-2000:].median())
    heavy_thr = float(_upper_threshold(heavy, detect(heavy)).iloc[-2000:].median())
    # near the Gaussian quantile at 1.5 episodes per 30 days per side (4.1) for Gaussian noise, well above for t(3)
    assert 3.5 < light_thr < 5.5
    assert heavy_thr > 1.5 * light_thr
    assert _runs(detect(heavy)["is_anomaly"]) <= 4


# --------------------------------------------------------------------------------------------------------------
# sampling intervals and seasonality
# --------------------------------------------------------------------------------------------------------------


def test_per_minute_series_flags_within_its_first_day() -> None:
    """A band from the first minutes (wide, then narrowing); a 60 % drop after 10 hours is flagged at once."""
    idx = pd.date_range("2024-01-01", periods=60 * 18, freq="min")
    rng = np.random.default_rng(11)
    series = pd.Series(5000 + _daily(idx, 200) + rng.normal(0, 40, len(idx)), index=idx)
    at = 600
    series.iloc[at : at + 30] *= 0.4
    result = detect(series)
    first_band = int(np.argmax(result["expected"].notna().to_numpy()))
    assert first_band <= 10
    early = (result["upper"] - result["lower"]).iloc[first_band + 5]
    later = (result["upper"] - result["lower"]).iloc[at - 1]
    assert early > 2 * later  # a short history gets a wider band, not silence
    assert result["is_anomaly"].iloc[at] and result["score"].iloc[at] < 0
    assert not result["is_anomaly"].iloc[: at - 1].iloc[60:].any()


def test_hourly_daily_cycle_is_found_and_a_dip_at_the_peak_is_flagged() -> None:
    series = _hourly_counts(28, seed=2)
    at = int(series.index.get_loc(pd.Timestamp("2024-01-20 14:00")))
    series.iloc[at : at + 3] = np.round(series.iloc[at : at + 3] * 0.6)
    result = detect(series)
    assert result.attrs["periods"] == (24, 168)
    assert result.attrs["season"] == "daily"  # found in the data; no weekly pattern to find
    assert result["is_anomaly"].iloc[at] and (result["score"].iloc[at : at + 3] < 0).all()
    assert _runs(result["is_anomaly"].iloc[: at - 1]) <= 2


def test_no_seasonality_is_assumed() -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 28, freq="h")
    series = pd.Series(np.random.default_rng(4).normal(100, 5, len(idx)), index=idx)
    assert detect(series).attrs["season"] == "none"


def test_daily_series_with_weekly_cycle_and_growth() -> None:
    rng = np.random.default_rng(5)
    idx = pd.date_range("2023-01-02", periods=300, freq="D")
    weekly = np.where(idx.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    series = pd.Series(20_000 * weekly * np.linspace(1, 1.6, len(idx)) * np.exp(rng.normal(0, 0.02, 300)), index=idx)
    clean = detect(series)
    assert clean.attrs["periods"] == (7,) and clean.attrs["season"] == "weekly"
    assert _runs(clean["is_anomaly"]) <= 3 * 10  # the budget: 3 per 30 days
    assert _runs(clean["is_anomaly"]) <= 4
    series.iloc[250] *= 0.6
    hit = detect(series)
    assert hit["is_anomaly"].iloc[250] and hit["score"].iloc[250] < 0


def test_latency_like_heavy_tails_stay_quiet_and_a_slowdown_is_flagged() -> None:
    """Lognormal latency with sporadic slow requests (2 % of points, exponential tail): far fewer false episodes
    than a plain z-score (~30 in these 20 days; still ~10, above the budget of 2), and a slowdown is flagged."""
    idx = pd.date_range("2024-01-01", periods=12 * 24 * 20, freq="5min")
    rng = np.random.default_rng(8)
    slow = rng.exponential(60, len(idx)) * (rng.random(len(idx)) < 0.02)
    values = 80 * np.exp(0.3 * np.sin(2 * np.pi * idx.hour.to_numpy() / 24) + rng.normal(0, 0.1, len(idx))) + slow
    series = pd.Series(values, index=idx)
    history = series.rolling("24h", closed="left", min_periods=12)
    z_score = ((series - history.mean()) / history.std()).abs() >= 4
    assert _runs(detect(series)["is_anomaly"]) <= _runs(z_score) / 2  # a known weak spot: exponential tails
    at = len(idx) - 500
    series.iloc[at : at + 12] += 400
    result = detect(series)
    assert result["is_anomaly"].iloc[at : at + 3].any()


# --------------------------------------------------------------------------------------------------------------
# level shifts, trends, sparse counts, negative values
# --------------------------------------------------------------------------------------------------------------


def test_level_shift_is_flagged_then_becomes_normal() -> None:
    idx = pd.date_range("2024-01-01", periods=12 * 24 * 10, freq="5min")
    series = pd.Series(20 + np.random.default_rng(9).normal(0, 1, len(idx)), index=idx)
    shift = 1800
    series.iloc[shift:] += 6
    result = detect(series)
    assert result["is_anomaly"].iloc[shift]
    absorbed = shift + result.attrs["adaptation_points"] + result.attrs["level_window"]
    assert not result["is_anomaly"].iloc[absorbed:].any()
    assert _runs(result["is_anomaly"].iloc[:shift]) <= 1


def test_steady_trend_is_not_an_anomaly_but_a_turn_is() -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 60, freq="h")
    t = np.arange(len(idx), dtype=float)
    noise = np.random.default_rng(10).normal(0, 1, len(idx))
    series = pd.Series(100 + 0.05 * t + noise, index=idx)
    assert _runs(detect(series)["is_anomaly"]) <= 2
    turn = 1000
    series.iloc[turn:] += 0.8 * (t[turn:] - turn)
    result = detect(series)
    assert result["is_anomaly"].iloc[turn : turn + 15].any()


def test_sparse_counts_flag_a_burst_not_single_events() -> None:
    rng = np.random.default_rng(2)
    idx = pd.date_range("2024-01-01", periods=24 * 60, freq="h")
    counts = rng.poisson(0.3, len(idx)).astype(float)
    quiet = detect(pd.Series(counts, index=idx))
    assert _runs(quiet["is_anomaly"]) <= 6  # the budget, 3 per 30 days
    assert quiet["expected"].dropna().max() < 2
    assert _runs(detect(pd.Series(counts, index=idx), variance="poisson")["is_anomaly"]) <= 1
    counts[1000:1004] = [9, 11, 8, 10]
    burst = detect(pd.Series(counts, index=idx), variance="poisson")
    assert burst["is_anomaly"].iloc[1000]


def test_negative_values() -> None:
    rng = np.random.default_rng(4)
    idx = pd.date_range("2024-01-01", periods=24 * 30, freq="h")
    series = pd.Series(-5 + 3 * np.sin(2 * np.pi * idx.hour.to_numpy() / 24) + rng.normal(0, 0.5, len(idx)), index=idx)
    assert _runs(detect(series)["is_anomaly"]) <= 2
    series.iloc[600] -= 6
    result = detect(series)
    assert result["is_anomaly"].iloc[600] and result["score"].iloc[600] < 0
    with pytest.raises(ValueError, match="non-negative"):
        detect(series, variance="poisson")


# --------------------------------------------------------------------------------------------------------------
# messy input: gaps, repeated timestamps, NaN / inf, constant stretches, short series
# --------------------------------------------------------------------------------------------------------------


def test_gaps_are_missing_points_on_the_grid() -> None:
    series = _hourly_counts(20, seed=6)
    gappy = series.drop(series.index[200:230])
    on_grid = series.copy()
    on_grid.iloc[200:230] = np.nan
    pd.testing.assert_frame_equal(detect(gappy), detect(on_grid).loc[gappy.index], check_exact=True)


def test_repeated_and_unsorted_timestamps_are_scored_row_by_row() -> None:
    series = _hourly_counts(20, seed=12)
    doubled = pd.concat([series, series]).sort_index(kind="mergesort")
    spike_at = series.index[400]
    values = doubled.to_numpy().copy()
    values[np.flatnonzero(doubled.index == spike_at)[0]] *= 4  # one of the two rows of that hour
    doubled = pd.Series(values, index=doubled.index)
    shuffled = doubled.sample(frac=1.0, random_state=0)
    result = detect(shuffled)
    assert result.index.equals(shuffled.index)
    rows = result.loc[spike_at]
    assert rows["is_anomaly"].sum() == 1  # the tall row only; both rows share the hour's band
    assert rows["expected"].nunique() == 1


def test_nan_and_inf_are_missing_values() -> None:
    series = _hourly_counts(15, seed=13)
    series.iloc[[100, 101]] = [np.inf, -np.inf]
    series.iloc[200:205] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = detect(series)
    assert result.attrs["non_finite"] == 2
    assert result["score"].iloc[[100, 101, 200, 204]].isna().all()
    assert not result["is_anomaly"].iloc[[100, 101, 200]].any()
    assert result["expected"].iloc[205:].notna().all()


def test_constant_series_and_a_constant_stretch() -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 21, freq="h")
    flat = pd.Series(50.0, index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = detect(flat)
    ready = result["expected"].notna()
    assert ready.sum() > len(idx) - 10 and not result["is_anomaly"].any()
    assert np.isfinite(result.loc[ready, ["expected", "lower", "upper", "score"]].to_numpy()).all()
    bumped = flat.copy()
    bumped.iloc[400] = 58.0
    assert detect(bumped)["is_anomaly"].iloc[400]
    # a noisy series stuck for two days: its scale may not collapse to zero, so the restart is not endless alarms
    noisy = pd.Series(np.random.default_rng(14).normal(10, 1, len(idx)), index=idx)
    noisy.iloc[200:248] = 10.0
    restart = detect(noisy)["is_anomaly"].iloc[248:]
    assert restart.iloc[:24].sum() <= 6 and not restart.iloc[24:].any()  # a few flags at the restart, then quiet


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 10])
def test_short_series_never_raise(n: int) -> None:
    series = pd.Series(np.arange(n, dtype=float), index=pd.date_range("2024-01-01", periods=n, freq="h"))
    result = detect(series)
    assert len(result) == n and list(result.columns) == list(RESULT_COLUMNS)
    assert not result["is_anomaly"].any()


def test_bad_input_and_options_raise_clear_errors() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="h")
    with pytest.raises(ValueError, match="numeric"):
        detect(pd.Series(["a", "b", "c"], index=index))
    with pytest.raises(ValueError, match="DatetimeIndex"):
        detect(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="pandas Series"):
        detect(pd.Series([1.0, 2.0, 3.0], index=index).to_frame())  # type: ignore[arg-type]
    for bad in ({"budget": 0}, {"threshold": -1.0}, {"variance": "gaussian"}, {"level_window": 1}):
        with pytest.raises(ValueError):
            detect(pd.Series([1.0, 2.0, 3.0], index=index), **bad)  # type: ignore[arg-type]


def test_fixed_threshold_replaces_the_budget() -> None:
    series = _hourly_counts(20, seed=15)
    result = detect(series, threshold=4.5, variance="poisson")
    late = result.iloc[200:]
    assert (late["is_anomaly"] == (late["score"].abs() > 4.5)).all()
    assert result.attrs["threshold"] == 4.5
