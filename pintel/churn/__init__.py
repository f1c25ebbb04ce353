"""Churn risk: which active users are likely to churn within the label horizon, and why.

One row per ``(user_id, snapshot_date)`` of ``fct_user_features`` (weekly snapshots, features from events
before the snapshot only) is scored with a calibrated probability, a risk band and up to three reasons; the
customer-success team works the high band with a retention play. Two versions are trained on the same
time-ordered windows and compared with a recency baseline and, on simulated data, the oracle:

* ``v1`` :class:`LogisticChurnModel` -- transparent, exact contributions, close to calibrated as-is;
* ``v2`` :class:`BoostedChurnModel` -- boosted trees for non-linear effects, calibrated on a later window.

Both are moved to the latest realised churn rate by a prior-shift adjustment (:mod:`pintel.churn.calibration`),
and "high risk" starts at the retention play's cost-weighted threshold (:class:`RetentionCosts`).

Entry points: :func:`train_models`, :func:`score` (the public scoring function), :func:`evaluate`, and the
monitoring trio :func:`drift_report` / :func:`realised_outcomes` / :func:`retrain_needed`. The dbt Python
models call :mod:`pintel.churn.dbt_models`.
"""

from __future__ import annotations

from pintel.churn.boosted import BoostedChurnModel
from pintel.churn.calibration import PriorShift, apply_shift, fit_prior_shift
from pintel.churn.columns import (
    CHURN_DATE_COL,
    DATE_COL,
    ID_COL,
    LABEL_COL,
    ORACLE_COL,
    EmptySnapshotError,
    as_binary_labels,
)
from pintel.churn.evaluate import (
    EVALUATION_COLUMNS,
    calibration_plot,
    early_flag_share,
    evaluate,
    expected_calibration_error,
)
from pintel.churn.features import AllNullFeatureWarning, FeatureSpec, discover_features
from pintel.churn.logistic import LogisticChurnModel
from pintel.churn.model import ChurnModel, EncodedRows
from pintel.churn.monitor import (
    RetrainThresholds,
    clock_features,
    drift_report,
    psi,
    psi_status,
    realised_outcomes,
    retrain_needed,
    weighted_psi,
)
from pintel.churn.operating import RetentionCosts
from pintel.churn.registry import REGISTRY_COLUMNS, dump_model, load_model, load_model_from_registry
from pintel.churn.score import score, score_columns
from pintel.churn.split import latest_snapshot, time_split
from pintel.churn.train import BaselineModel, TrainedModels, baseline_score, fit_baseline, train_models

__all__ = [
    "CHURN_DATE_COL",
    "DATE_COL",
    "EVALUATION_COLUMNS",
    "ID_COL",
    "LABEL_COL",
    "ORACLE_COL",
    "REGISTRY_COLUMNS",
    "AllNullFeatureWarning",
    "BaselineModel",
    "BoostedChurnModel",
    "ChurnModel",
    "EmptySnapshotError",
    "EncodedRows",
    "FeatureSpec",
    "LogisticChurnModel",
    "PriorShift",
    "RetentionCosts",
    "RetrainThresholds",
    "TrainedModels",
    "apply_shift",
    "as_binary_labels",
    "baseline_score",
    "calibration_plot",
    "clock_features",
    "discover_features",
    "drift_report",
    "dump_model",
    "early_flag_share",
    "evaluate",
    "expected_calibration_error",
    "fit_baseline",
    "fit_prior_shift",
    "latest_snapshot",
    "load_model",
    "load_model_from_registry",
    "psi",
    "psi_status",
    "realised_outcomes",
    "retrain_needed",
    "score",
    "score_columns",
    "time_split",
    "train_models",
    "weighted_psi",
]
