"""The dbt glue (pintel.incidents.pipeline) on hand-made anomaly tables: typing at the warehouse boundary."""

from __future__ import annotations

import duckdb
import pytest

from pintel.incidents import INCIDENT_COLUMNS, INCIDENT_SCHEMA, metric_incidents
from pintel.tables import typed_relation
from tests.incidents.synthetic import anomaly_rows


def test_incidents_empty_and_typed_without_anomalies() -> None:
    frame = anomaly_rows("events", "all", "all", [0, 1], 100.0, 1.0, score=0.3, flag=False)
    out = metric_incidents(frame, charts=False)
    assert out.empty and list(out.columns) == INCIDENT_COLUMNS
    # the model types its output at the warehouse boundary, so an empty table has the declared types too
    con = duckdb.connect()
    typed = typed_relation(con, out, INCIDENT_SCHEMA)
    assert typed.columns == INCIDENT_COLUMNS
    out = typed.df()
    assert out.empty and list(out.columns) == INCIDENT_COLUMNS
    assert str(out["start"].dtype).startswith("datetime64") and out["peak_score"].dtype == float
    with pytest.raises(ValueError, match="missing columns"):
        metric_incidents(frame.drop(columns="score"))
