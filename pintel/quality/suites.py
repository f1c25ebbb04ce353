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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from pintel.quality.history import previous_row_count, table_exists

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

Loader = Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]
ParameterSource = Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]
ExpectationFactory = Callable[[], "list[Expectation]"]

QUARANTINE_REASONS: tuple[str, ...] = (
    "invalid_json",
    "oversized_payload",
    "unsupported_message_type",
    "missing_user_id",
    "unparseable_timestamp",
    "future_timestamp",
    "unknown_event",
    "wrong_property_type",
)

RAW_EVENT_COLUMNS: dict[str, str] = {
    "_row_id": "VARCHAR",
    "_file_id": "BIGINT",
    "_row_number": "BIGINT",
    "_source": "VARCHAR",
    "_loaded_at": "TIMESTAMP",
    "message_id": "VARCHAR",
    "message_type": "VARCHAR",
    "event": "VARCHAR",
    "user_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "event_timestamp": "VARCHAR",
    "received_at": "VARCHAR",
    "properties": "VARCHAR",
    "context": "VARCHAR",
    "raw_line": "VARCHAR",
    "is_parseable": "BOOLEAN",
    "message_bytes": "BIGINT",
}

# Earliest plausible event time; anything before is a client clock or parsing bug.
MIN_EVENT_AT = datetime(2000, 1, 1)
# Events may be stamped at most this far after the server received them (client clock skew).
MAX_CLOCK_SKEW_SECONDS = 3600
# Row-count drift tolerated between consecutive runs of the row_counts suite, as fractions of the last count.
ROW_COUNT_MAX_DROP = 0.10
ROW_COUNT_MAX_GROWTH = 1.00
# Latest day's DAU against the median of the same weekday over the trailing four weeks.
DAU_BAND = (0.5, 1.5)
DAU_BASELINE_MIN_DAYS = 2
# DuckDB VARCHAR arrives as pandas 3's "str" dtype ("object" under pandas 2). Not a type list: GX's
# expect_column_values_to_be_in_type_list compares against StringDtype(na_value=NA) and rejects pandas 3 "str".
STRING_TYPE = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"


@dataclass(frozen=True)
class SuiteSpec:
    """One suite: the table it guards, whether it blocks, how to load its frame and what to expect of it.

    ``load`` receives a read-only connection and returns the frame to validate. ``parameters`` (optional)
    receives the same connection and returns values for the ``$PARAMETER`` references in the expectations.
    ``index_columns`` name the columns GX reports for each offending row, so a failure says *which* rows.
    ``requires`` lists the tables the loader reads; when one is missing the suite errors, unless it is
    ``optional`` (a table that legitimately does not exist yet), in which case it is skipped.
    """

    name: str
    asset: str
    critical: bool
    description: str
    load: Loader
    expectations: ExpectationFactory
    parameters: ParameterSource | None = None
    index_columns: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    optional: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """GX failure severity for this suite's expectations: critical suites block, the rest warn."""
        return "critical" if self.critical else "warning"


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _gxe() -> Any:
    """GX takes ~5 s to import; import it only when expectations are actually built, not at Dagster load."""
    import great_expectations.expectations as gxe

    return gxe


# --- raw ---------------------------------------------------------------------------------------------------


def _load_raw_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # The lineage/identity columns only: the payload columns (properties, context, raw_line) would cost
    # ~16 s and ~3 GB of pandas memory on 2M rows and no row-level rule reads them. Their presence is
    # checked by the raw_events_schema suite against information_schema instead.
    return _query(
        con,
        """
        select _row_id, _file_id, _row_number, _loaded_at, is_parseable, message_bytes
        from raw.events
        """,
    )


def _raw_events_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="_row_id"),
        gxe.ExpectColumnValuesToBeUnique(column="_row_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["_file_id", "_row_number"]),
        gxe.ExpectColumnValuesToNotBeNull(column="_file_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="_loaded_at"),
        gxe.ExpectColumnValuesToNotBeNull(column="is_parseable"),
        gxe.ExpectColumnValuesToBeBetween(column="message_bytes", min_value=0),
    ]


def _load_raw_events_schema(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # One row per column of raw.events: the schema as data, so GX can name a missing or retyped column.
    return _query(
        con,
        """
        select column_name, data_type, column_name || ' ' || data_type as column_spec
        from information_schema.columns
        where table_schema = 'raw' and table_name = 'events'
        order by ordinal_position
        """,
    )


def _raw_events_schema_expectations() -> list[Expectation]:
    gxe = _gxe()
    specs = [f"{name} {dtype}" for name, dtype in RAW_EVENT_COLUMNS.items()]
    return [
        gxe.ExpectColumnDistinctValuesToEqualSet(column="column_name", value_set=list(RAW_EVENT_COLUMNS)),
        gxe.ExpectColumnValuesToBeInSet(column="column_spec", value_set=specs),
    ]


# --- staging -----------------------------------------------------------------------------------------------


def _load_staging_tracks(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # Only quarantined rows: valid rows have a null reason, which passes by definition, and the view
    # re-parses every message, so loading all 2M rows costs ~11 s against ~3 s for the quarantined ones.
    return _query(
        con,
        """
        select raw_row_id, message_id, quarantine_reason
        from staging.stg_segment__tracks
        where quarantine_reason is not null
        """,
    )


def _staging_tracks_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectColumnValuesToBeInSet(column="quarantine_reason", value_set=list(QUARANTINE_REASONS)),
        gxe.ExpectColumnValuesToNotBeNull(column="raw_row_id"),
        gxe.ExpectColumnValuesToBeUnique(column="raw_row_id"),
    ]


# --- fct_events --------------------------------------------------------------------------------------------


def _load_fct_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # The event_at bounds are columns (earliest: a constant; latest: received + allowed clock skew) so both are
    # vectorised GX column-pair expectations that name the offending message_ids. A plain between-check with
    # a datetime bound runs a Python function per row in GX's pandas engine: ~12 s on 2M rows instead of ~0.3 s.
    return _query(
        con,
        f"""
        select
            message_id,
            user_id,
            event_name,
            event_at,
            event_date,
            received_at,
            timestamp '{MIN_EVENT_AT:%Y-%m-%d %H:%M:%S}' as earliest_valid_event_at,
            received_at + to_seconds({MAX_CLOCK_SKEW_SECONDS}) as latest_valid_event_at,
            arrival_lag_seconds
        from marts.fct_events
        """,
    )


def _allowed_event_names(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The taxonomy as the warehouse has it now: seed events plus events registered by custom sources."""
    sql = "select event_name from catalog.event_taxonomy"
    if table_exists(con, "raw.custom_events"):
        sql += " union select event_name from raw.custom_events"
    names = sorted(row[0] for row in con.execute(sql).fetchall() if row[0] is not None)
    return {"allowed_event_names": names}


def _fct_events_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="message_id"),
        gxe.ExpectColumnValuesToBeUnique(column="message_id"),
        # A replayed export (the same events re-sent with new message ids) slips past messageId de-duplication;
        # the same user, event and millisecond repeated in more than 0.1 % of rows is that, not coincidence.
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "event_name", "event_at"], mostly=0.999),
        gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="event_name"),
        gxe.ExpectColumnValuesToBeInSet(column="event_name", value_set={"$PARAMETER": "allowed_event_names"}),
        gxe.ExpectColumnValuesToNotBeNull(column="event_at"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="event_at", column_B="earliest_valid_event_at", or_equal=True
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="latest_valid_event_at", column_B="event_at", or_equal=True
        ),
        gxe.ExpectColumnValuesToBeBetween(column="arrival_lag_seconds", min_value=-MAX_CLOCK_SKEW_SECONDS),
        gxe.ExpectColumnValuesToBeOfType(column="message_id", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="user_id", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="event_name", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="event_at", type_="datetime64"),
        gxe.ExpectColumnValuesToBeOfType(column="received_at", type_="datetime64"),
        gxe.ExpectColumnValuesToBeOfType(column="arrival_lag_seconds", type_="int64"),
    ]


# --- active users ------------------------------------------------------------------------------------------


def _load_active_users_daily(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _query(
        con,
        """
        select activity_date, segment_dim, segment_value, dau, wau, mau, stickiness
        from marts.active_users_daily
        """,
    )


def _active_users_daily_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="activity_date"),
        gxe.ExpectColumnValuesToNotBeNull(column="segment_dim"),
        gxe.ExpectColumnValuesToNotBeNull(column="segment_value"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["activity_date", "segment_dim", "segment_value"]),
        gxe.ExpectColumnValuesToBeBetween(column="dau", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="wau", column_B="dau", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="mau", column_B="wau", or_equal=True),
        gxe.ExpectColumnValuesToBeBetween(column="stickiness", min_value=0, max_value=1),
    ]


def _load_dau_distribution(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # The latest day's all-users DAU against the median of the same weekday over the four weeks before it:
    # same weekday because weekend DAU is about half of weekday DAU. Only the latest day is judged, since a
    # historical dip cannot be fixed and would fail every run after it. Too little history -> null ratio,
    # which GX's between-check ignores, so young warehouses pass.
    return _query(
        con,
        f"""
        with daily as (
            select activity_date, dau from marts.active_users_daily where segment_dim = 'all'
        ),
        latest as (
            select * from daily where activity_date = (select max(activity_date) from daily)
        ),
        baseline as (
            select latest.activity_date, median(history.dau) as baseline_dau, count(history.dau) as baseline_days
            from latest
            left join daily as history
                on history.activity_date < latest.activity_date
                and history.activity_date >= latest.activity_date - interval 28 day
                and dayofweek(history.activity_date) = dayofweek(latest.activity_date)
            group by latest.activity_date
        )
        select
            latest.activity_date,
            latest.dau,
            baseline.baseline_dau,
            baseline.baseline_days,
            case
                when baseline.baseline_days >= {DAU_BASELINE_MIN_DAYS} and baseline.baseline_dau > 0
                then latest.dau / baseline.baseline_dau
            end as dau_ratio
        from latest
        join baseline using (activity_date)
        """,
    )


def _dau_distribution_expectations() -> list[Expectation]:
    gxe = _gxe()
    low, high = DAU_BAND
    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnValuesToBeBetween(column="dau_ratio", min_value=low, max_value=high),
    ]


# --- retention ---------------------------------------------------------------------------------------------


def _load_retention_cohorts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _query(
        con,
        """
        select cohort_week, week_number, cohort_users, eligible_users, retained_users, retained_or_later_users,
               retention_rate, retention_rate_unbounded
        from marts.retention_cohorts
        """,
    )


def _retention_cohorts_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["cohort_week", "week_number"]),
        gxe.ExpectColumnValuesToBeBetween(column="retention_rate", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="retention_rate_unbounded", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="eligible_users", column_B="retained_users", or_equal=True
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="cohort_users", column_B="eligible_users", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="retained_or_later_users", column_B="retained_users", or_equal=True
        ),
    ]


# --- conservation ------------------------------------------------------------------------------------------


def _load_conservation(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # Every landed message ends up exactly once as valid, quarantined or a duplicate; and every valid one
    # reaches the fact table. Counting in SQL keeps this a one-row frame however large the warehouse.
    return _query(
        con,
        """
        with counts as (
            select
                (select count(*) from raw.events) as raw_rows,
                (select count(*) from intermediate.int_events_deduplicated) as valid_rows,
                (select count(*) from intermediate.int_events_quarantined) as quarantined_rows,
                (select count(*) from intermediate.int_events_duplicated) as duplicate_rows,
                (select count(*) from marts.fct_events) as fct_rows
        )
        select
            *,
            raw_rows - (valid_rows + quarantined_rows + duplicate_rows) as difference,
            valid_rows - fct_rows as fct_difference
        from counts
        """,
    )


def _conservation_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnValuesToBeBetween(column="difference", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="fct_difference", min_value=0, max_value=0),
    ]


# --- row counts --------------------------------------------------------------------------------------------


def _load_row_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # GX's row-count expectation counts frame rows; a one-byte column keeps 2M rows at 2 MB.
    return _query(con, "select 1::utinyint as row_marker from marts.fct_events")


def _row_count_bounds(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Bounds around the previous run's count; the first run has no history and only requires rows."""
    previous = previous_row_count(con, "row_counts")
    if previous is None:
        return {"min_row_count": 1, "max_row_count": None}
    return {
        "min_row_count": math.floor(previous * (1 - ROW_COUNT_MAX_DROP)),
        "max_row_count": math.ceil(previous * (1 + ROW_COUNT_MAX_GROWTH)),
    }


def _row_counts_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": "min_row_count"}, max_value={"$PARAMETER": "max_row_count"}
        ),
    ]


# --- churn predictions -------------------------------------------------------------------------------------


def _load_churn_predictions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _query(
        con,
        "select user_id, snapshot_date, churn_probability, risk_band, model_version, model_hash "
        "from ml.churn_scores_v2",
    )


def _churn_predictions_expectations() -> list[Expectation]:
    gxe = _gxe()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="snapshot_date"),
        gxe.ExpectColumnValuesToNotBeNull(column="model_version"),
        gxe.ExpectColumnValuesToNotBeNull(column="churn_probability"),
        gxe.ExpectColumnValuesToBeBetween(column="churn_probability", min_value=0, max_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "snapshot_date", "model_version"]),
    ]


# --- registry ----------------------------------------------------------------------------------------------

_SPECS: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="raw_events",
        asset="raw.events",
        critical=False,
        description="Landed messages: every row has a unique _row_id and a provenance; the table is not empty.",
        load=_load_raw_events,
        expectations=_raw_events_expectations,
        index_columns=("_row_id", "_file_id", "_row_number"),
        requires=("raw.events",),
    ),
    SuiteSpec(
        name="raw_events_schema",
        asset="raw.events",
        critical=False,
        description="The raw table has exactly the columns (and types) the staging models parse.",
        load=_load_raw_events_schema,
        expectations=_raw_events_schema_expectations,
        index_columns=("column_name",),
        requires=("raw.events",),
    ),
    SuiteSpec(
        name="staging_tracks",
        asset="staging.stg_segment__tracks",
        critical=False,
        description="Quarantined messages carry a reason from the defect vocabulary, never an ad-hoc one.",
        load=_load_staging_tracks,
        expectations=_staging_tracks_expectations,
        index_columns=("raw_row_id", "message_id"),
        requires=("staging.stg_segment__tracks",),
    ),
    SuiteSpec(
        name="fct_events",
        asset="marts.fct_events",
        critical=True,
        description="The event fact every metric is built on: unique ids, known events, plausible times.",
        load=_load_fct_events,
        expectations=_fct_events_expectations,
        parameters=_allowed_event_names,
        index_columns=("message_id",),
        requires=("marts.fct_events", "catalog.event_taxonomy"),
    ),
    SuiteSpec(
        name="active_users_daily",
        asset="marts.active_users_daily",
        critical=True,
        description="DAU <= WAU <= MAU and stickiness in [0, 1]: the headline numbers must be coherent.",
        load=_load_active_users_daily,
        expectations=_active_users_daily_expectations,
        index_columns=("activity_date", "segment_dim", "segment_value"),
        requires=("marts.active_users_daily",),
    ),
    SuiteSpec(
        name="dau_distribution",
        asset="marts.active_users_daily",
        critical=False,
        description="The latest day's DAU is within a band of the same weekday's trailing four-week median.",
        load=_load_dau_distribution,
        expectations=_dau_distribution_expectations,
        index_columns=("activity_date", "dau", "baseline_dau"),
        requires=("marts.active_users_daily",),
    ),
    SuiteSpec(
        name="retention_cohorts",
        asset="marts.retention_cohorts",
        critical=False,
        description="Retention rates are proportions and the funnel retained <= eligible <= cohort holds.",
        load=_load_retention_cohorts,
        expectations=_retention_cohorts_expectations,
        index_columns=("cohort_week", "week_number"),
        requires=("marts.retention_cohorts",),
    ),
    SuiteSpec(
        name="conservation",
        asset="marts.fct_events",
        critical=True,
        description="No message is lost or double counted: raw = valid + quarantined + duplicates, valid = fact.",
        load=_load_conservation,
        expectations=_conservation_expectations,
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
            f"fct_events did not shrink by more than {ROW_COUNT_MAX_DROP:.0%} or grow by more than "
            f"{ROW_COUNT_MAX_GROWTH:.0%} since the previous validation run."
        ),
        load=_load_row_counts,
        expectations=_row_counts_expectations,
        parameters=_row_count_bounds,
        requires=("marts.fct_events",),
    ),
    SuiteSpec(
        name="churn_predictions",
        asset="ml.churn_scores_v2",
        critical=True,
        description="Served churn scores (latest version): probabilities, versioned, one per user and snapshot.",
        load=_load_churn_predictions,
        expectations=_churn_predictions_expectations,
        index_columns=("user_id", "snapshot_date", "model_version"),
        requires=("ml.churn_scores_v2",),
        optional=True,
    ),
)

SUITES: dict[str, SuiteSpec] = {spec.name: spec for spec in _SPECS}
CRITICAL_SUITES: tuple[str, ...] = tuple(name for name, spec in SUITES.items() if spec.critical)
