"""Column types of the tables the churn dbt Python models write.

Every adapter in :mod:`pintel.churn.dbt_models` casts its frame to one of these (``pintel.tables.typed_relation``),
so a table's types never depend on what pandas inferred (an all-NULL column, an empty frame, datetime64 vs
date). The yml beside each model documents the same columns; ``tests/churn`` checks that the built tables match.
"""

from __future__ import annotations

__all__ = ["METRICS_SCHEMA", "MONITORING_SCHEMA", "PREDICTION_SCHEMA", "REGISTRY_SCHEMA"]

#: ``ml_model_registry`` (column -> DuckDB type).
REGISTRY_SCHEMA: dict[str, str] = {
    "version": "varchar",
    "model_hash": "varchar",
    "trained_at": "timestamp",
    "train_start": "date",
    "train_end": "date",
    "calibrate_start": "date",
    "calibrate_end": "date",
    "test_start": "date",
    "test_end": "date",
    "n_train": "bigint",
    "n_calibrate": "bigint",
    "n_test": "bigint",
    "features": "varchar",
    "params": "varchar",
    "warnings": "varchar",
    "model_blob": "blob",
}
#: ``churn_predictions`` v1 / v2.
PREDICTION_SCHEMA: dict[str, str] = {
    "user_id": "varchar",
    "snapshot_date": "date",
    "churn_probability": "double",
    "risk_band": "varchar",
    "reason_1": "varchar",
    "reason_2": "varchar",
    "reason_3": "varchar",
    "model_version": "varchar",
    "model_hash": "varchar",
}
#: ``ml_churn_metrics``.
METRICS_SCHEMA: dict[str, str] = {
    "model": "varchar",
    "roc_auc": "double",
    "pr_auc": "double",
    "brier": "double",
    "ece": "double",
    "precision_top10": "double",
    "recall_top10": "double",
    "early_flag_share": "double",
    "early_flag_churners": "bigint",
    "n": "bigint",
    "positives": "bigint",
    "high_risk_threshold": "double",
    "recall_14d": "double",
    "high_risk_precision": "double",
    "high_risk_share": "double",
    "expected_cost": "double",
    "cost_flag_none": "double",
    "cost_flag_all": "double",
    "model_hash": "varchar",
    "train_start": "date",
    "train_end": "date",
    "test_start": "date",
    "test_end": "date",
    "calibration_plot": "varchar",
}
#: ``ml_churn_monitoring``.
MONITORING_SCHEMA: dict[str, str] = {
    "check_type": "varchar",
    "model_version": "varchar",
    "model_hash": "varchar",
    "feature": "varchar",
    "psi": "double",
    "psi_status": "varchar",
    "importance": "double",
    "n": "bigint",
    "positives": "bigint",
    "roc_auc": "double",
    "brier": "double",
    "ece": "double",
    "window_start": "date",
    "window_end": "date",
    "scored_snapshot_date": "date",
    "train_start": "date",
    "train_end": "date",
    "retrain_needed": "boolean",
    "reasons": "varchar",
}
