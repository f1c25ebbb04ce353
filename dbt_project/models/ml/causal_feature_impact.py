"""Effect of adopting each catalogued feature early on 30/60-day retention; see causal_feature_impact.yml.

The logic lives in pintel.causal.feature_impact (tested); this model only wires dbt to it.
"""

from pintel.causal.feature_impact import feature_impact_table


def model(dbt, session):
    dbt.config(materialized="table")
    return feature_impact_table(
        dbt.ref("ml_feature_adoption_cohort").df(),
        dbt.ref("dim_features").df(),
        window_days=int(dbt.config.get("adoption_window_days")),
        n_folds=int(dbt.config.get("n_folds")),
        refute=str(dbt.config.get("refute")),
    )
