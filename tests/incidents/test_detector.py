"""The generic detector (pintel.incidents.detector) on seeded synthetic series: online property, planted
incidents, false alarms, warm-up, gaps, degenerate and bad input; detect_frame on a long table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pintel.incidents
import pintel.ml.anomaly
from pintel.incidents.detector import detect, detect_frame
from tests.incidents.synthetic import DROP_AT, flagged_runs, hourly_rate, poisson, position


def test_result_shape_and_columns(hourly: pd.Series) -> None:
    result = detect(hourly)
    assert list(result.columns) == ["expected", "lower", "upper", "score", "is_anomaly"]
    assert result.index.equals(hourly.index)
    assert result["is_anomaly"].dtype == bool
    ready = result["expected"].notna()
    assert (result.loc[ready, "lower"] <= result.loc[ready, "expected"]).all()
    assert (result.loc[ready, "expected"] <= result.loc[ready, "upper"]).all()
    outside = (hourly < result["lower"]) | (hourly > result["upper"])
    assert (outside[ready] == result.loc[ready, "is_anomaly"]).all()  # band and flag agree


def test_causal_prefix_gives_identical_rows(hourly: pd.Series) -> None:
    series = hourly.copy()
    series.iloc[900:903] = np.nan  # missing values must not break the property either
    series.iloc[1300] *= 4
    full = detect(series)
    for k in (100, 400, 901, 1301, 1500):
        pd.testing.assert_frame_equal(detect(series.iloc[:k]), full.iloc[:k], check_exact=True)


def test_planted_60pct_drop_for_3_hours_is_flagged_at_first_point(hourly: pd.Series) -> None:
    series = hourly.copy()
    i0 = position(series, "2024-03-01 13:00")  # a Friday afternoon
    series.iloc[i0 : i0 + 3] = np.round(series.iloc[i0 : i0 + 3] * 0.4)
    result = detect(series)
    assert result["is_anomaly"].iloc[i0]
    assert result["score"].iloc[i0] < -4.5
    assert result["is_anomaly"].iloc[i0 : i0 + 3].all()
    # nothing else flagged on that day
    day = result.loc["2024-03-01"]
    assert day["is_anomaly"].sum() == 3


def test_one_day_tripling_is_flagged(hourly: pd.Series) -> None:
    series = hourly.copy()
    day = slice("2024-02-28", "2024-02-28")
    series.loc[day] = series.loc[day] * 3
    result = detect(series)
    flagged = result.loc[day, "is_anomaly"]
    assert flagged.iloc[0]  # flagged from the first hour of the incident
    assert flagged.sum() >= 20
    assert (result.loc[day, "score"] > 0).all()
    # the recovery is not reported as the opposite anomaly
    assert not result.loc["2024-02-29", "is_anomaly"].any()


def test_event_type_going_to_zero_for_a_day_is_flagged(hourly: pd.Series) -> None:
    series = hourly.copy()
    series.loc["2024-02-21"] = 0.0
    result = detect(series)
    assert result.loc["2024-02-21", "is_anomaly"].sum() >= 20
    assert (result.loc["2024-02-21", "score"].dropna() < 0).all()


@pytest.mark.parametrize(("seed", "overdispersion"), [(11, 0.0), (12, 0.0), (13, 0.01)])
def test_clean_90_day_hourly_series_has_at_most_one_flagged_run(seed: int, overdispersion: float) -> None:
    series = poisson(hourly_rate(90, 300.0), seed=seed, overdispersion=overdispersion)
    result = detect(series)
    assert flagged_runs(result["is_anomaly"]) <= 1


def test_daily_series_with_trend_and_weekly_seasonality() -> None:
    rng = np.random.default_rng(5)
    idx = pd.date_range("2023-01-02", periods=300, freq="D")
    weekly = np.where(idx.day_of_week.to_numpy() >= 5, 0.75, 1.0)
    dau = 20_000 * weekly * np.linspace(1.0, 1.6, len(idx)) * np.exp(rng.normal(0, 0.02, len(idx)))
    series = pd.Series(rng.poisson(dau).astype(float), index=idx)
    clean = detect(series)
    assert clean.attrs["periods"] == (7,)
    assert flagged_runs(clean["is_anomaly"]) <= 1
    series.iloc[250] *= 0.6
    hit = detect(series)
    assert hit["is_anomaly"].iloc[250] and hit["score"].iloc[250] < 0


def test_short_series_is_all_warmup(hourly: pd.Series) -> None:
    result = detect(hourly.iloc[: 24 * 5])
    assert result.attrs["warmup"] == 247
    assert result.attrs["warmup_end"] is None
    assert result[["expected", "lower", "upper", "score"]].isna().all().all()
    assert not result["is_anomaly"].any()
    single = detect(hourly.iloc[:1])
    assert len(single) == 1 and not single["is_anomaly"].iloc[0]


@pytest.mark.parametrize(("freq", "n"), [("h", 600), ("D", 80), ("W", 40)])
def test_documented_warmup_is_where_bands_start(freq: str, n: int) -> None:
    rng = np.random.default_rng(0)
    series = pd.Series(rng.poisson(200, n).astype(float), index=pd.date_range("2024-01-01", periods=n, freq=freq))
    result = detect(series)
    first = int(np.argmax(result["expected"].notna().to_numpy()))
    assert first == result.attrs["warmup"]
    assert result.attrs["warmup_end"] == series.index[first]


def test_gaps_and_missing_values(hourly: pd.Series) -> None:
    series = hourly.copy()
    i0 = position(series, "2024-03-04 14:00")
    series.iloc[i0 : i0 + 3] = np.round(series.iloc[i0 : i0 + 3] * 0.4)
    series.iloc[1000] = np.nan
    gappy = series.drop(series.index[1100:1130])  # 30 missing timestamps
    result = detect(gappy)
    assert result.index.equals(gappy.index)
    assert np.isnan(result["score"].iloc[1000]) and not result["is_anomaly"].iloc[1000]
    assert result.loc[series.index[i0], "is_anomaly"]
    # missing timestamps are handled exactly like NaN values on the regular grid
    on_grid = detect(series.where(~series.index.isin(series.index[1100:1130])))
    pd.testing.assert_frame_equal(result, on_grid.loc[gappy.index], check_exact=True)


def test_constant_series_no_division_by_zero_and_departure_flagged() -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 21, freq="h")
    series = pd.Series(50.0, index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = detect(series)
    ready = flat["expected"].notna()
    assert ready.any() and not flat["is_anomaly"].any()
    assert np.isfinite(flat.loc[ready, ["expected", "lower", "upper", "score"]].to_numpy()).all()
    assert (flat.loc[ready, "expected"] == 50.0).all()
    bumped = series.copy()
    bumped.iloc[400] = 58.0
    assert detect(bumped)["is_anomaly"].iloc[400]


def test_level_shift_is_flagged_then_absorbed() -> None:
    rate = hourly_rate(60, 400.0)
    shift = position(rate, "2024-02-10 10:00")
    rate.iloc[shift:] *= 0.5
    result = detect(poisson(rate, seed=3))
    assert result["is_anomaly"].iloc[shift]
    window = result.attrs["level_window"]
    assert window == 49 and result.attrs["adaptation_points"] == 25
    assert not result["is_anomaly"].iloc[shift + window :].any()
    assert not result["is_anomaly"].iloc[:shift].any()


def test_sparse_counts_stay_quiet() -> None:
    rng = np.random.default_rng(2)
    idx = pd.date_range("2024-01-01", periods=24 * 60, freq="h")
    series = pd.Series(rng.poisson(0.3, len(idx)).astype(float), index=idx)
    result = detect(series)
    assert not result["is_anomaly"].any()
    assert result["expected"].max() < 2.0


def test_series_with_negative_values_uses_additive_model() -> None:
    rng = np.random.default_rng(4)
    idx = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    values = 3 * np.sin(2 * np.pi * idx.hour.to_numpy() / 24) + rng.normal(0, 1, len(idx))
    series = pd.Series(values, index=idx)
    assert flagged_runs(detect(series)["is_anomaly"]) <= 1
    series.iloc[800] += 9
    result = detect(series)
    assert result["is_anomaly"].iloc[800] and result["score"].iloc[800] > 0


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-02", "2024-01-01"])), "sorted"),
        (pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-01"])), "duplicated"),
        (pd.Series(["a", "b"], index=pd.date_range("2024-01-01", periods=2, freq="h")), "numeric"),
        (pd.Series([], dtype=float, index=pd.DatetimeIndex([])), "empty"),
        (pd.Series([1.0, 2.0, 3.0]), "DatetimeIndex"),
        (pd.Series([1.0, np.inf], index=pd.date_range("2024-01-01", periods=2, freq="h")), "infinite"),
    ],
)
def test_bad_input_raises_clear_value_error(series: pd.Series, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detect(series)


def test_bad_options_and_types_raise() -> None:
    series = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h"))
    with pytest.raises(ValueError, match="pandas Series"):
        detect(series.to_frame())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        detect(series, threshold=0)
    with pytest.raises(ValueError, match="variance"):
        detect(series, variance="gaussian")  # type: ignore[arg-type]


def test_detect_frame_returns_one_row_per_input_row(metric_table: pd.DataFrame, detected: pd.DataFrame) -> None:
    assert len(detected) == len(metric_table)
    assert list(detected.columns) == [
        "metric",
        "segment_dim",
        "segment_value",
        "ts",
        "observed",
        "expected",
        "lower",
        "upper",
        "score",
        "is_anomaly",
    ]
    overall = detected[detected["metric"].eq("events") & detected["segment_dim"].isna()]
    assert len(overall) == 56 * 24
    assert overall.loc[overall["ts"].eq(pd.Timestamp(DROP_AT)), "is_anomaly"].all()
    with pytest.raises(ValueError, match="missing columns"):
        detect_frame(metric_table.drop(columns="segment_value"))


def test_the_old_import_path_is_the_same_detector() -> None:
    """pintel.ml.anomaly is kept for compatibility (the shared benchmark calls pintel.ml.anomaly:detect)."""
    assert pintel.ml.anomaly.detect is pintel.incidents.detect
    assert pintel.ml.anomaly.detect_frame is detect_frame


def _band_scale(result: pd.DataFrame) -> pd.Series:
    """The scale behind the upper band, in Anscombe units (2 sqrt(x + 3/8)): 1 is pure Poisson noise."""
    anscombe = lambda x: 2.0 * np.sqrt(x + 0.375)  # noqa: E731
    return (anscombe(result["upper"]) - anscombe(result["expected"])) / result.attrs["threshold"]


def test_poisson_series_band_is_not_widened_at_its_peak() -> None:
    # ~70 users an hour at the afternoon peak, ~17 at night (the android segment of an 8 000-user product): the
    # noise is Poisson at every level, so a variance slope fitted on a week of residuals is sampling noise and
    # must not be extrapolated to the peak, where a 60 % loss has to clear the threshold at its first hour
    series = poisson(hourly_rate(35, 70.0, trend=0.0), seed=5)
    i0 = position(series, "2024-02-02 14:00")  # a Friday afternoon in the fifth week
    series.iloc[i0 : i0 + 4] = np.round(series.iloc[i0 : i0 + 4] * 0.4)
    result = detect(series)
    scale = _band_scale(result).loc["2024-01-22":"2024-02-01"]
    peak = scale[scale.index.hour.isin([13, 14, 15])]
    assert peak.median() < 1.3
    assert result["score"].iloc[i0] < -4.5 and result["is_anomaly"].iloc[i0]


def test_multiplicative_noise_still_widens_the_band_at_the_peak() -> None:
    # a high-volume business metric: Var(y) = E + 0.01 E^2, so the peak (~3 000) is far noisier than the night
    series = poisson(hourly_rate(35, 3000.0, trend=0.0), seed=6, overdispersion=0.01)
    scale = _band_scale(detect(series)).loc["2024-01-22":]
    hour = scale.index.hour
    assert scale[np.isin(hour, [13, 14, 15])].median() > 1.5 * scale[np.isin(hour, [1, 2, 3])].median()


def test_column_medians_skip_empty_columns_without_touching_warning_filters() -> None:
    """All-NaN columns give NaN with no RuntimeWarning and no catch_warnings (not thread-safe in dbt's threads)."""
    from pintel.incidents.detector_core import _nanmedian_columns
    from pintel.incidents.robust._model import trimmed_mean

    stacked = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, np.nan, np.nan, 2.0], [2.0, np.nan, 7.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning from either helper fails the test
        median = _nanmedian_columns(stacked, (~np.isnan(stacked)).sum(axis=0))
        trimmed = trimmed_mean(np.vstack([stacked, [[4.0, np.nan, 6.0, 3.0]]]))
    np.testing.assert_allclose(median, [2.0, np.nan, 6.0, 3.0])
    # 4 values in column 0 -> mean without min and max; 3 or fewer -> the median; none -> NaN
    np.testing.assert_allclose(trimmed, [2.5, np.nan, 6.0, 3.0])
