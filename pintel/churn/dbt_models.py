"""What the churn dbt Python models in ``models/ml/`` call: DuckDB relations in, a typed relation out.

The dbt models stay a few lines: they name their inputs with ``dbt.ref`` / ``dbt.source`` (dbt needs the calls
in the model file to know the lineage), read their settings with ``dbt.config.meta_get`` (the yml's
``config: meta:``, where dbt vars such as ``churn_horizon_days`` are rendered) and hand everything to one
``run_*`` function here. Each pulls only the rows it needs into pandas, calls the pure function of
:mod:`pintel.churn.warehouse` that carries the logic, and casts the result to its table's schema.

Failure policy (what a reader of the served tables can rely on): "not yet" raises
:class:`~pintel.status.InsufficientData` with the reason, and the dbt model's :func:`pintel.status.guarded`
keeps the table as it was (or empty) and records the skip in ``ml_model_status``.

* Not enough labelled history to train yet (fewer than 3 labelled weekly snapshots, or a window with a single
  class): the registry stays as it was, predictions and metrics stay as they were (or empty), and
  ``ml_churn_monitoring`` says so in a ``no_model`` row with the reason. A young warehouse builds; nothing
  pretends to be a model.
* A model exists but the scoring snapshot has no users: the last good predictions stay in the table and the
  ``churn_scores`` contract models serve them with ``is_stale = true``; on the very first run there is nothing
  to fall back on and the model is skipped (:class:`~pintel.churn.columns.EmptySnapshotError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pintel.churn.columns import DATE_COL, ID_COL, LABEL_COL, ORACLE_COL, EmptySnapshotError
from pintel.churn.operating import RetentionCosts
from pintel.churn.registry import latest_registry
from pintel.churn.schemas import METRICS_SCHEMA, MONITORING_SCHEMA, PREDICTION_SCHEMA, REGISTRY_SCHEMA
from pintel.churn.warehouse import (
    SEED,
    as_date,
    evaluate_holdout,
    insufficient_history,
    monitoring_frame,
    predict_snapshot,
    train_registry,
    training_frame,
)
from pintel.settings import Settings
from pintel.status import InsufficientData
from pintel.tables import typed_relation

__all__ = ["run_metrics", "run_monitoring", "run_predictions", "run_registry", "scoring_snapshot_date"]


def _labelled(features_rel: Any, labels_rel: Any) -> pd.DataFrame:
    return training_frame(features_rel.df(), labels_rel.project(f"{ID_COL}, {DATE_COL}, {LABEL_COL}").df())


def scoring_snapshot_date(dates_rel: Any) -> dt.date | None:
    """The snapshot to score, as ``dim_dates.churn_scoring_snapshot_date`` says (None on an empty calendar)."""
    return as_date(dates_rel.aggregate("max(churn_scoring_snapshot_date)").fetchone()[0])


def run_registry(
    session: Any,
    features_rel: Any,
    labels_rel: Any,
    *,
    seed: int = SEED,
    costs: Mapping[str, Any] | RetentionCosts | None = None,
) -> Any:
    """``ml_model_registry``: new rows for this run's models; :class:`InsufficientData` while history is short.

    ``costs`` is the yml's ``meta.churn_costs`` (``{false_positive, false_negative}``, the dbt vars
    ``churn_cost_false_positive`` / ``churn_cost_false_negative``): the high-risk band starts at
    ``c_fp / (c_fp + c_fn)``.
    """
    labelled = _labelled(features_rel, labels_rel)
    reason = insufficient_history(labelled)
    if reason is not None:
        raise InsufficientData(f"not enough labelled history to train: {reason}")
    rows = train_registry(labelled, seed=seed, costs=RetentionCosts.from_meta(costs))
    return typed_relation(session, rows, REGISTRY_SCHEMA)


def run_predictions(
    session: Any, version: str, registry_rel: Any, features_rel: Any, dates_rel: Any, existing: Any | None
) -> Any:
    """``churn_predictions_<version>``: score ``dim_dates``' scoring snapshot, or keep the last good predictions.

    ``existing`` is ``dbt.this`` on incremental runs (None on the first). Returns the rows to append (the
    incremental strategy replaces that snapshot_date's rows). See the module docstring for the failure policy.
    """
    registry = latest_registry(registry_rel.filter(f"version = '{version}'").df())
    if registry.empty:  # no model yet: nothing to serve, and ml_churn_monitoring says why
        raise InsufficientData(f"no trained {version} model in ml_model_registry yet")
    expected = scoring_snapshot_date(dates_rel)
    snapshot = pd.DataFrame()
    if expected is not None:
        snapshot = features_rel.filter(f"snapshot_date = date '{expected}'").df()
    try:
        return typed_relation(session, predict_snapshot(registry, snapshot, version), PREDICTION_SCHEMA)
    except EmptySnapshotError:
        if existing is None:
            raise EmptySnapshotError(
                f"scoring snapshot {expected} has no users and there are no earlier {version} predictions to serve"
            ) from None
        # last good predictions stay (guarded records the model as stale); churn_scores flags them stale
        raise EmptySnapshotError(f"scoring snapshot {expected} has no users") from None


def run_metrics(
    session: Any,
    registry_rel: Any,
    features_rel: Any,
    labels_rel: Any,
    users_rel: Any,
    truth_rel: Any | None,
    *,
    horizon_days: int | str,
    plot_path: str | Path | None = None,
    costs: Mapping[str, Any] | RetentionCosts | None = None,
) -> Any:
    """``ml_churn_metrics``: :func:`~pintel.churn.warehouse.evaluate_holdout` of the latest models.

    Churn dates are ``dim_users.churn_date`` (``users_rel``); ``horizon_days`` is ``churn_horizon_days``;
    ``costs`` is ``meta.churn_costs`` (as for :func:`run_registry`: the operating point's columns). The
    calibration PNG is written to ``plot_path`` (default ``<Settings.reports>/churn/calibration.png``).
    """
    registry = latest_registry(registry_rel.df())
    if registry.empty:
        raise InsufficientData("no trained churn model in ml_model_registry yet")
    labelled = _labelled(features_rel, labels_rel)
    churn_dates = users_rel.filter("churn_date is not null").project(f"{ID_COL}, churn_date").df()
    truth = None
    if truth_rel is not None:
        truth = truth_rel.project(f"{ID_COL}, {DATE_COL}, {ORACLE_COL}, {LABEL_COL}").df()
    path = Path(plot_path) if plot_path is not None else Settings.from_env().reports / "churn" / "calibration.png"
    metrics = evaluate_holdout(
        registry,
        labelled,
        horizon_days=int(horizon_days),
        truth=truth,
        churn_date=churn_dates,
        plot_path=path,
        costs=RetentionCosts.from_meta(costs),
    )
    return typed_relation(session, metrics, METRICS_SCHEMA)


def run_monitoring(
    session: Any,
    registry_rel: Any,
    features_rel: Any,
    labels_rel: Any,
    predictions: Mapping[str, Any],
    *,
    horizon_days: int | str,
    thresholds: Mapping[str, Any] | None = None,
) -> Any:
    """``ml_churn_monitoring``: :func:`~pintel.churn.warehouse.monitoring_frame` over each version's predictions."""
    registry = latest_registry(registry_rel.df())
    columns = "user_id, snapshot_date, churn_probability, model_version, model_hash"
    preds = {version: rel.project(columns).df() for version, rel in predictions.items()}
    labels = labels_rel.project(f"{ID_COL}, {DATE_COL}, {LABEL_COL}").df()
    frame = monitoring_frame(
        registry, features_rel.df(), labels, preds, horizon_days=int(horizon_days), thresholds=thresholds
    )
    return typed_relation(session, frame, MONITORING_SCHEMA)
