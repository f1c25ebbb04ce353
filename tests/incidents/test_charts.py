"""The incident chart (pintel.incidents.charts)."""

from __future__ import annotations

import pandas as pd

from pintel.incidents import detect
from pintel.incidents.charts import plot_anomalies


def test_plot_anomalies_writes_png(hourly: pd.Series, tmp_path) -> None:
    series = hourly.iloc[-24 * 21 :].copy()
    series.iloc[-30] *= 3
    result = detect(hourly).iloc[-24 * 21 :]
    out = plot_anomalies(series, result, tmp_path / "charts" / "events.png", title="events")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
