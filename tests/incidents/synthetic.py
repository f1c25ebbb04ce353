"""Seeded synthetic inputs for the incident tests: hourly count series and hand-made anomaly-table rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pintel.incidents import ANOMALY_COLUMNS

HOUR_START = "2024-01-01"  # a Monday
T0 = pd.Timestamp("2024-03-04 10:00")
SHARES = {"android": 0.25, "ios": 0.5, "web": 0.25}  # platform mix of the metric_table fixture
DROP_AT = "2024-02-20 12:00"  # android's planted drop in the metric_table fixture


def hourly_rate(days: int, base: float, *, weekend: float = 0.7, trend: float = 0.2) -> pd.Series:
    """Expected events/hour with a daily profile (night ~25 % of the afternoon peak), weekends and growth."""
    idx = pd.date_range(HOUR_START, periods=days * 24, freq="h")
    hour = idx.hour.to_numpy()
    daily = 0.25 + 0.75 * np.exp(-0.5 * ((hour - 14) / 4.0) ** 2)
    weekly = np.where(idx.day_of_week.to_numpy() >= 5, weekend, 1.0)
    growth = 1.0 + trend * np.arange(len(idx)) / len(idx)
    return pd.Series(base * daily * weekly * growth, index=idx)


def poisson(rate: pd.Series, seed: int, *, overdispersion: float = 0.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    lam = rate.to_numpy()
    if overdispersion > 0:
        lam = lam * rng.gamma(1 / overdispersion, overdispersion, len(lam))
    return pd.Series(rng.poisson(lam).astype(float), index=rate.index)


def flagged_runs(flags: pd.Series) -> int:
    f = flags.to_numpy(dtype=bool)
    return int(f[0]) + int((f[1:] & ~f[:-1]).sum())


def position(series: pd.Series, ts: str) -> int:
    return int(series.index.get_loc(pd.Timestamp(ts)))


def anomaly_rows(
    metric: str, dim: str, value: str, hours: list[int], expected: float, factor: float, **extra
) -> pd.DataFrame:
    """Rows of the anomalies table for one series at ``T0 + hours``: observed = expected x factor."""
    ts = [T0 + pd.Timedelta(hours=h) for h in hours]
    observed = expected * factor
    frame = pd.DataFrame(
        {
            "metric": metric,
            "grain": extra.get("grain", "hour"),
            "segment_dim": dim,
            "segment_value": value,
            "ts": ts,
            "observed": observed,
            "expected": expected,
            "lower": expected * 0.5,
            "upper": expected * 1.5,
            "score": extra.get("score", 6.0 if factor > 1 else -6.0),
            "is_anomaly": extra.get("flag", True),
            "severity": None,
        }
    )
    return frame[ANOMALY_COLUMNS]


def breakdown(metric: str, hours: list[int], values: dict[tuple[str, str], tuple[float, float, float]]) -> pd.DataFrame:
    """Unflagged rows of other segments at the same hours: (expected, factor, score)."""
    return pd.concat(
        [anomaly_rows(metric, d, v, hours, e, f, score=s, flag=False) for (d, v), (e, f, s) in values.items()],
        ignore_index=True,
    )


def signup_burst(android: tuple[float, float, float]) -> pd.DataFrame:
    """A paid-social signup burst (+19 an hour on 2 for 3 hours) seen overall, by channel and by platform.

    ``android`` is (expected, factor, score) of platform=android: the platform mix is otherwise proportional.
    """
    hours = [0, 1, 2]
    return pd.concat(
        [
            anomaly_rows("signups", "all", "all", hours, 20.0, 2.0, score=6.0),
            anomaly_rows("signups", "channel", "paid_social", hours, 2.0, 10.5, score=9.0),
            anomaly_rows("signups", "platform", "android", hours, android[0], android[1], score=android[2]),
            breakdown(
                "signups",
                hours,
                {
                    ("channel", "organic"): (18.0, 19 / 18, 0.3),
                    ("platform", "ios"): (10.0, 1.6, 1.5),
                    ("platform", "web"): (9.2, (40 - 16 - 0.8 * android[1]) / 9.2, 1.6),
                },
            ),
        ],
        ignore_index=True,
    )
