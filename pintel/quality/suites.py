"""The data-quality suites: what each warehouse table must satisfy, as Great Expectations suites.

Suites are defined here, in Python, and persisted to the GX file context under ``expectations/gx`` (see
:func:`pintel.quality.runner.sync_suites`) so every rule is also a reviewable JSON file in the repository.

Why pandas frames and not SQL: GX 1.x has no working DuckDB SQL path, so each suite owns a *loader* that runs
one query on a **read-only** DuckDB connection and returns a DataFrame; GX validates that frame through its
pandas data source. Loaders select only the columns their expectations touch (``fct_events`` is ~2M rows),
and derived checks (conservation, trend bands) are computed in SQL into small frames that GX then judges.

Values that depend on the warehouse (the event taxonomy, yesterday's row count) are not baked into the
JSON: expectations reference them as ``{"$PARAMETER": ...}`` and each suite's ``parameters`` function reads
them from the warehouse at validation time, so the committed suites stay stable while the data moves.

A suite is *critical* when a failure must block downstream work (decisions, actions, the Dagster run);
other suites warn. Their expectations carry GX severity ``critical`` or ``warning`` accordingly.
"""

from __future__ import annotations

from pintel.quality import event_checks as events
from pintel.quality import metric_checks as metrics
from pintel.quality.spec import SuiteSpec

# --- registry ----------------------------------------------------------------------------------------------

_SPECS: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="raw_events",
        asset="raw.events",
        critical=False,
        description="Landed messages: every row has a unique _row_id and a provenance; the table is not empty.",
        load=events.load_raw_events,
        sql=events.raw_events_sql,
        expectations=events.raw_events_expectations,
        index_columns=("_row_id", "_file_id", "_row_number"),
        requires=("raw.events",),
    ),
    SuiteSpec(
        name="raw_events_schema",
        asset="raw.events",
        critical=False,
        description="The raw table has exactly the columns (and types) the staging models parse.",
        load=events.load_raw_events_schema,
        expectations=events.raw_events_schema_expectations,
        index_columns=("column_name",),
        requires=("raw.events",),
    ),
    SuiteSpec(
        name="staging_tracks",
        asset="staging.stg_segment__tracks",
        critical=False,
        description="Quarantined messages carry a reason from the quarantine_reasons seed, never an ad-hoc one.",
        load=events.load_staging_tracks,
        sql=events.staging_tracks_sql,
        expectations=events.staging_tracks_expectations,
        parameters=events.quarantine_reasons,
        index_columns=("raw_row_id", "message_id"),
        requires=("staging.stg_segment__tracks", "catalog.quarantine_reasons"),
    ),
    SuiteSpec(
        name="fct_events",
        asset="marts.fct_events",
        critical=True,
        description="The event fact every metric is built on: unique ids, known events, plausible times.",
        load=events.load_fct_events,
        sql=events.fct_events_sql,
        expectations=events.fct_events_expectations,
        parameters=events.fct_events_parameters,
        index_columns=("message_id",),
        requires=("marts.fct_events", "catalog.event_taxonomy"),
    ),
    SuiteSpec(
        name="active_users_daily",
        asset="marts.active_users_daily",
        critical=True,
        description="DAU <= WAU <= MAU and stickiness in [0, 1]: the headline numbers must be coherent.",
        load=metrics.load_active_users_daily,
        expectations=metrics.active_users_daily_expectations,
        index_columns=("activity_date", "segment_dim", "segment_value"),
        requires=("marts.active_users_daily",),
    ),
    SuiteSpec(
        name="dau_distribution",
        asset="marts.active_users_daily",
        critical=False,
        description="The latest day's DAU is within a band of the same weekday's trailing four-week median.",
        load=metrics.load_dau_distribution,
        expectations=metrics.dau_distribution_expectations,
        index_columns=("activity_date", "dau", "baseline_dau"),
        requires=("marts.active_users_daily",),
    ),
    SuiteSpec(
        name="retention_cohorts",
        asset="marts.retention_cohorts",
        critical=False,
        description="Retention rates are proportions and each cohort-week appears once.",
        load=metrics.load_retention_cohorts,
        expectations=metrics.retention_cohorts_expectations,
        index_columns=("cohort_week", "week_number"),
        requires=("marts.retention_cohorts",),
    ),
    SuiteSpec(
        name="conservation",
        asset="marts.fct_events",
        critical=True,
        description="No message is lost or double counted: raw = valid + quarantined + duplicates, valid = fact.",
        load=events.load_conservation,
        expectations=events.conservation_expectations,
        index_columns=("raw_rows", "valid_rows", "quarantined_rows", "duplicate_rows", "fct_rows"),
        requires=(
            "raw.events",
            "intermediate.int_events_deduplicated",
            "intermediate.int_events_quarantined",
            "intermediate.int_events_duplicated",
            "marts.fct_events",
        ),
    ),
    SuiteSpec(
        name="row_counts",
        asset="marts.fct_events",
        critical=False,
        description=(
            f"fct_events did not shrink by more than {events.ROW_COUNT_MAX_DROP:.0%} or grow by more than "
            f"{events.ROW_COUNT_MAX_GROWTH:.0%} since the previous validation run."
        ),
        load=events.load_row_counts,
        expectations=events.row_counts_expectations,
        parameters=events.row_count_bounds,
        requires=("marts.fct_events",),
    ),
    SuiteSpec(
        name="churn_predictions",
        asset="ml.churn_scores_v2",
        critical=True,
        description="Served churn scores (latest version): probabilities, versioned, one per user and snapshot.",
        load=metrics.load_churn_predictions,
        expectations=metrics.churn_predictions_expectations,
        index_columns=("user_id", "snapshot_date", "model_version"),
        requires=("ml.churn_scores_v2",),
        optional=True,
    ),
)

SUITES: dict[str, SuiteSpec] = {spec.name: spec for spec in _SPECS}
CRITICAL_SUITES: tuple[str, ...] = tuple(name for name, spec in SUITES.items() if spec.critical)
