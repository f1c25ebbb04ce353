"""Metric incidents: anomaly detection on any metric series, root cause, one incident per cause.

``detect(series)`` is pintel's entry point for anomaly detection: any regularly sampled ``pd.Series`` on a
``DatetimeIndex`` in, a frame on the same index with ``expected, lower, upper, score, is_anomaly`` out, each
point judged from its past only. The rest turns the warehouse's metric marts into incidents:

==================  ===================================================================================
``robust``          the generic detector ``detect`` for real series of any kind: data-chosen seasonality,
                    thresholds from a false-alarm budget (false episodes per series per 30 days)
``detector``        the incident pipeline's count detector (``detect_frame`` over many series at a fixed
                    threshold); ``detector_core`` its numpy core
``config``          :class:`IncidentConfig`, the knobs every later stage reads
``series``          views over the marts: long format, user units, hourly / trailing-sum / daily views
``attribution``     contribution analysis (``attribute``) and the one decision of an incident's cause
``grouping``        flagged points -> runs -> episodes; ``group_incidents`` for any flagged table
``describe``        severity, incident ids, confirmation, span and the plain-language summary
``charts``          the PNG of an incident's series (matplotlib, imported only when a chart is drawn)
``pipeline``        the dbt glue: ``metric_anomalies``, ``metric_incidents`` and their warehouse schemas
``evaluate``        incidents against the simulator's planted ones
==================  ===================================================================================
"""

from __future__ import annotations

from pintel.incidents.attribution import attribute
from pintel.incidents.config import IncidentConfig
from pintel.incidents.describe import severity
from pintel.incidents.detector import RESULT_COLUMNS, DetectorConfig, detect_frame
from pintel.incidents.evaluate import IncidentScore, load_planted, match_incidents, score_incidents
from pintel.incidents.grouping import group_incidents
from pintel.incidents.pipeline import (
    ANOMALY_COLUMNS,
    ANOMALY_SCHEMA,
    INCIDENT_COLUMNS,
    INCIDENT_SCHEMA,
    metric_anomalies,
    metric_incidents,
    select_anomalies,
)
from pintel.incidents.robust import detect
from pintel.incidents.series import daily_long, detect_metrics, hourly_long

__all__ = [
    "ANOMALY_COLUMNS",
    "ANOMALY_SCHEMA",
    "INCIDENT_COLUMNS",
    "INCIDENT_SCHEMA",
    "RESULT_COLUMNS",
    "DetectorConfig",
    "IncidentConfig",
    "IncidentScore",
    "attribute",
    "daily_long",
    "detect",
    "detect_frame",
    "detect_metrics",
    "group_incidents",
    "hourly_long",
    "load_planted",
    "match_incidents",
    "metric_anomalies",
    "metric_incidents",
    "score_incidents",
    "select_anomalies",
    "severity",
]
