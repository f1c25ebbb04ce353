"""Column types of the recommendation and upgrade tables (the served models' yml declares the same contract)."""

from __future__ import annotations

RECOMMENDATION_SCHEMA: dict[str, str] = {
    "user_id": "varchar",
    "as_of_date": "date",
    "rank": "integer",
    "feature_key": "varchar",
    "feature_name": "varchar",
    "score": "double",
    "adoption_score": "double",
    "retention_lift": "double",
    "source": "varchar",
    "reason": "varchar",
}

RECOMMENDATION_METRICS_SCHEMA: dict[str, str] = {
    "model": "varchar",
    "split_date": "date",
    "horizon_days": "integer",
    "k": "integer",
    "hit_rate_at_k": "double",
    "ndcg_at_k": "double",
    "users_judged": "integer",
    "users_scored": "integer",
    "lift_vs_popularity": "double",
    "lambda_scale": "double",
}

UPGRADE_PREDICTION_SCHEMA: dict[str, str] = {
    "user_id": "varchar",
    "snapshot_date": "date",
    "upgrade_probability": "double",
    "model_version": "varchar",
    "trained_through": "date",
}

UPGRADE_METRICS_SCHEMA: dict[str, str] = {
    "model": "varchar",
    "test_from": "date",
    "test_to": "date",
    "roc_auc": "double",
    "ece": "double",
    "brier": "double",
    "n": "integer",
    "positives": "integer",
    "base_rate": "double",
}
