"""Readout of every feature-flag experiment found in the events; see experiment_results.yml.

The logic lives in pintel.experiments.readout (tested); this model only wires dbt to it.
"""

from pintel.experiments.readout import experiment_results_table


def model(dbt, session):
    dbt.config(materialized="table")
    return experiment_results_table(
        dbt.ref("ml_experiment_units").df(),
        control=str(dbt.config.get("control_variant")),
        conversion_event=str(dbt.config.get("conversion_event")),
        window_days=int(dbt.config.get("window_days")),
    )
