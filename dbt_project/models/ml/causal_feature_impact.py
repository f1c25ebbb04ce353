"""Effect of adopting each catalogued feature early on 30/60-day retention; see causal_feature_impact.yml.

The logic lives in pintel.causal.feature_impact (tested); this model only wires dbt to it. Its settings are dbt
vars passed through the yml's config.meta; the result is typed to the served contract (feature_impact.SCHEMA).
Every catalogued feature gets its rows, with the reason when there is no estimate; ml_model_status records
how many rows could be estimated (skipped when none) and how many were reused from the last run (same inputs).
The rows are estimated in PINTEL_CAUSAL_WORKERS worker processes (pintel.causal.workers; same table for any number).
"""

from pintel.causal.feature_impact import SCHEMA, feature_impact_table, impact_status
from pintel.settings import causal_workers
from pintel.status import guarded
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    # Ordered by the grain: cross-fitting folds are drawn over rows, so an unordered read (DuckDB's row order
    # varies between builds) would give a different estimate from the same data on every build.
    cohort = dbt.ref("ml_feature_adoption_cohort").order("user_id, feature_key")
    features = dbt.ref("dim_features").order("feature_key")
    window_days = int(dbt.config.meta_get("adoption_window_days"))
    n_folds = int(dbt.config.meta_get("n_folds"))
    refute = str(dbt.config.meta_get("refute"))

    this = dbt.this
    # The last run's rows: those whose units, settings and code are unchanged are copied, not re-estimated.
    previous = (
        session.sql(f"select * from {this}").df() if table_exists(session, this.schema, this.identifier) else None
    )

    def build():
        return feature_impact_table(
            cohort.df(),
            features.df(),
            window_days=window_days,
            n_folds=n_folds,
            refute=refute,
            previous=previous,
            workers=causal_workers(),
        )

    return guarded(dbt, session, build, SCHEMA, assess=impact_status)
