"""Fixtures of the incident tests: a clean hourly count series and a small metric table with a planted drop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.incidents import detect_frame
from tests.incidents.synthetic import DROP_AT, SHARES, hourly_rate, poisson, position


@pytest.fixture(scope="module")
def hourly() -> pd.Series:
    return poisson(hourly_rate(70, 400.0), seed=1)


@pytest.fixture(scope="module")
def metric_table() -> pd.DataFrame:
    """events by platform (android drops 65 % for 3 h), the overall total, a country slice and DAU."""
    rng = np.random.default_rng(9)
    rate = hourly_rate(56, 3000.0)
    i0 = position(rate, DROP_AT)
    frames, total = [], np.zeros(len(rate))
    by_platform = {}
    for platform, share in SHARES.items():
        lam = rate.to_numpy() * share
        if platform == "android":
            lam[i0 : i0 + 3] *= 0.35
        values = rng.poisson(lam).astype(float)
        by_platform[platform] = values
        total += values
        frames.append(("events", "platform", platform, values))
    frames.append(("events", None, None, total))
    us = np.round(0.6 * by_platform["android"] + 0.3 * by_platform["ios"])  # android users are mostly US
    frames.append(("events", "country", "US", us))
    dau = rate.to_numpy() * 0.1 * SHARES["android"]
    dau[i0 : i0 + 3] *= 0.35
    frames.append(("active_users", "platform", "android", rng.poisson(dau).astype(float)))
    return pd.concat(
        [
            pd.DataFrame({"metric": m, "segment_dim": d, "segment_value": v, "ts": rate.index, "value": y})
            for m, d, v, y in frames
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def detected(metric_table: pd.DataFrame) -> pd.DataFrame:
    return detect_frame(metric_table)
