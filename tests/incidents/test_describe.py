"""Descriptions (pintel.incidents.describe): confirmation decides when an incident is raised."""

from __future__ import annotations

import pandas as pd

from pintel.incidents import metric_incidents
from tests.incidents.synthetic import T0, anomaly_rows


def test_a_single_blip_is_not_raised_and_persistence_or_a_second_segment_raises() -> None:
    blip = anomaly_rows("events", "country", "FR", [0], 10.0, 8.0)
    blip_2h = anomaly_rows("events", "country", "FR", [1], 20.0, 4.5, grain="trailing_2h")  # the same hour, seen again
    assert metric_incidents(pd.concat([blip, blip_2h]), charts=False).empty
    persistent = anomaly_rows("events", "country", "FR", [0, 1], 10.0, 8.0)
    raised = metric_incidents(persistent, charts=False)
    assert len(raised) == 1 and raised.iloc[0]["raised_batch"] == T0 + pd.Timedelta(hours=1)
    assert raised.iloc[0]["first_detected_batch"] == T0
    strong = anomaly_rows("events", "country", "FR", [0], 10.0, 8.0, score=12.0)
    assert metric_incidents(strong, charts=False).iloc[0]["raised_batch"] == T0
