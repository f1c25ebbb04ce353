"""Readout of every feature-flag experiment found in the events; see experiment_results.yml.

The logic lives in pintel.experiments.readout (tested); this model only wires dbt to it. Its settings are dbt
vars passed through the yml's config.meta; the result is typed to the served contract (readout.SCHEMA).
"""

from pintel.experiments.readout import SCHEMA, experiment_results_table
from pintel.tables import typed_relation


def model(dbt, session):
    dbt.config(materialized="table")
    table = experiment_results_table(
        # Ordered by the grain, so sums (and so the last digits of every statistic) do not depend on DuckDB's
        # row order, which varies between builds.
        dbt.ref("ml_experiment_units").order("experiment, user_id").df(),
        control=str(dbt.config.meta_get("control_variant")),
        conversion_event=str(dbt.config.meta_get("conversion_event")),
        window_days=int(dbt.config.meta_get("window_days")),
    )
    return typed_relation(session, table, SCHEMA)
