"""Readout of every feature-flag experiment found in the events; see experiment_results.yml.

The logic lives in pintel.experiments.readout (tested); this model only wires dbt to it. Its settings are dbt
vars passed through the yml's config.meta; the result is typed to the served contract (readout.SCHEMA).
No experiment in the events: no rows, and ml_model_status says so.
"""

from pintel.experiments.readout import SCHEMA, experiment_results_table, readout_status
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    # Ordered by the grain, so sums (and so the last digits of every statistic) do not depend on DuckDB's
    # row order, which varies between builds.
    units = dbt.ref("ml_experiment_units").order("experiment, user_id")
    control = str(dbt.config.meta_get("control_variant"))
    conversion_event = str(dbt.config.meta_get("conversion_event"))
    window_days = int(dbt.config.meta_get("window_days"))

    def build():
        return experiment_results_table(
            units.df(), control=control, conversion_event=conversion_event, window_days=window_days
        )

    return guarded(dbt, session, build, SCHEMA, assess=readout_status)
