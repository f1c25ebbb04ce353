"""Churn model registry: v1 + v2 trained on a time split of the labelled snapshots (pintel.churn).

Too little labelled history: no rows are added, the registry stays as it was, and ml_model_status says why.
"""

from pintel.churn.dbt_models import run_registry
from pintel.churn.schemas import REGISTRY_SCHEMA
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["version", "model_hash"], incremental_strategy="delete+insert")
    features = dbt.ref("fct_user_features")
    labels = dbt.ref("fct_churn_labels")
    costs = dbt.config.meta_get("churn_costs")
    return guarded(dbt, session, lambda: run_registry(session, features, labels, costs=costs), REGISTRY_SCHEMA)
