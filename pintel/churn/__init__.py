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
models call :mod:`pintel.churn.dbt_models`. Names load on first use, so a module that needs one light piece
(``pintel serve`` reads the served table through :mod:`pintel.churn.served`) does not import scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_MODULES = {
    "pintel.churn.boosted": ("BoostedChurnModel",),
    "pintel.churn.calibration": (
        "PriorShift",
        "apply_shift",
        "fit_prior_shift",
    ),
    "pintel.churn.columns": (
        "CHURN_DATE_COL",
        "DATE_COL",
        "ID_COL",
        "LABEL_COL",
        "ORACLE_COL",
        "EmptySnapshotError",
        "as_binary_labels",
    ),
    "pintel.churn.evaluation": (
        "EVALUATION_COLUMNS",
        "calibration_plot",
        "early_flag_share",
        "evaluate",
        "expected_calibration_error",
    ),
    "pintel.churn.features": (
        "AllNullFeatureWarning",
        "FeatureSpec",
        "discover_features",
    ),
    "pintel.churn.logistic": ("LogisticChurnModel",),
    "pintel.churn.model": (
        "ChurnModel",
        "EncodedRows",
    ),
    "pintel.churn.monitor": (
        "RetrainThresholds",
        "clock_features",
        "drift_report",
        "psi",
        "psi_status",
        "realised_outcomes",
        "retrain_needed",
        "weighted_psi",
    ),
    "pintel.churn.operating": ("RetentionCosts",),
    "pintel.churn.registry": (
        "REGISTRY_COLUMNS",
        "dump_model",
        "load_model",
        "load_model_from_registry",
    ),
    "pintel.churn.scoring": (
        "score",
        "score_columns",
    ),
    "pintel.churn.split": (
        "latest_snapshot",
        "time_split",
    ),
    "pintel.churn.train": (
        "BaselineModel",
        "TrainedModels",
        "baseline_score",
        "fit_baseline",
        "train_models",
    ),
}
_NAMES = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = globals()[name] = getattr(import_module(_NAMES[name]), name)
        return value
    raise AttributeError(f"module 'pintel.churn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES})
