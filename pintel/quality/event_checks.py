"""Suites on the event pipeline: raw landing, staging judgement, the event fact and conservation.

Each suite is a loader (one read-only query, thresholds from the dbt vars the build used) and a list of GX
expectations; the registry in :mod:`pintel.quality.suites` names them. See that module for the design.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from pintel.dbt_project import project_var
from pintel.quality.history import previous_row_count, table_exists
from pintel.quality.spec import STRING_TYPE, Vars, gx_expectations, query

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

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

# Row-count drift tolerated between consecutive runs of the row_counts suite, as fractions of the last count.
ROW_COUNT_MAX_DROP = 0.10
ROW_COUNT_MAX_GROWTH = 1.00

# --- raw ---------------------------------------------------------------------------------------------------


def raw_events_sql(_vars: Vars) -> str:
    # The lineage/identity columns only: the payload columns (properties, context, raw_line) would cost
    # ~16 s and ~3 GB of pandas memory on 2M rows and no row-level rule reads them. Their presence is
    # checked by the raw_events_schema suite against information_schema instead.
    return """
        select _row_id, _file_id, _row_number, _loaded_at, is_parseable, message_bytes
        from raw.events
    """


def load_raw_events(con: duckdb.DuckDBPyConnection, dbt_vars: Vars) -> pd.DataFrame:
    return query(con, raw_events_sql(dbt_vars))


def raw_events_expectations() -> list[Expectation]:
    gxe = gx_expectations()
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


def load_raw_events_schema(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    # One row per column of raw.events: the schema as data, so GX can name a missing or retyped column.
    return query(
        con,
        """
        select column_name, data_type, column_name || ' ' || data_type as column_spec
        from information_schema.columns
        where table_schema = 'raw' and table_name = 'events'
        order by ordinal_position
        """,
    )


def raw_events_schema_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    specs = [f"{name} {dtype}" for name, dtype in RAW_EVENT_COLUMNS.items()]
    return [
        gxe.ExpectColumnDistinctValuesToEqualSet(column="column_name", value_set=list(RAW_EVENT_COLUMNS)),
        gxe.ExpectColumnValuesToBeInSet(column="column_spec", value_set=specs),
    ]


# --- staging -----------------------------------------------------------------------------------------------


def staging_tracks_sql(_vars: Vars) -> str:
    # Only quarantined rows: valid rows have a null reason, which passes by definition, and the view
    # re-parses every message, so loading all 2M rows costs ~11 s against ~3 s for the quarantined ones.
    return """
        select raw_row_id, message_id, quarantine_reason
        from staging.stg_segment__tracks
        where quarantine_reason is not null
    """


def load_staging_tracks(con: duckdb.DuckDBPyConnection, dbt_vars: Vars) -> pd.DataFrame:
    return query(con, staging_tracks_sql(dbt_vars))


def quarantine_reasons(con: duckdb.DuckDBPyConnection, _vars: Vars) -> dict[str, Any]:
    """The quarantine vocabulary as the build loaded it: the quarantine_reasons seed (one source for SQL and GX)."""
    rows = con.execute("select reason from catalog.quarantine_reasons order by precedence").fetchall()
    reasons = [row[0] for row in rows]
    return {"quarantine_reasons": reasons}


def staging_tracks_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    return [
        gxe.ExpectColumnValuesToBeInSet(column="quarantine_reason", value_set={"$PARAMETER": "quarantine_reasons"}),
        gxe.ExpectColumnValuesToNotBeNull(column="raw_row_id"),
        gxe.ExpectColumnValuesToBeUnique(column="raw_row_id"),
    ]


# --- fct_events --------------------------------------------------------------------------------------------


def _event_time_bounds(dbt_vars: Vars) -> tuple[datetime, int]:
    """The staging model's plausibility rules, from the dbt vars the build used: earliest valid event time, and
    how many minutes an event may be stamped after the server received it (client clock skew)."""
    earliest = project_var("earliest_valid_timestamp", dbt_vars)
    tolerance = project_var("future_tolerance_minutes", dbt_vars)
    try:
        return datetime.fromisoformat(str(earliest)), int(tolerance)
    except (TypeError, ValueError):
        raise ValueError(
            f"dbt vars earliest_valid_timestamp={earliest!r} / future_tolerance_minutes={tolerance!r} are not a "
            "timestamp and a whole number of minutes"
        ) from None


def fct_events_sql(dbt_vars: Vars) -> str:
    # The event_at bounds are columns (earliest: the var; latest: received, or loaded when receivedAt is missing,
    # plus the tolerance -- exactly the staging rule) so both are vectorised GX column-pair expectations that
    # name the offending message_ids. A plain between-check with a datetime bound runs a Python function per
    # row in GX's pandas engine: ~12 s on 2M rows instead of ~0.3 s.
    earliest, tolerance = _event_time_bounds(dbt_vars)
    return f"""
        select
            message_id,
            user_id,
            event_name,
            event_at,
            event_date,
            received_at,
            timestamp '{earliest:%Y-%m-%d %H:%M:%S}' as earliest_valid_event_at,
            coalesce(received_at, loaded_at) + to_minutes({tolerance}) as latest_valid_event_at,
            arrival_lag_seconds
        from marts.fct_events
    """


def load_fct_events(con: duckdb.DuckDBPyConnection, dbt_vars: Vars) -> pd.DataFrame:
    return query(con, fct_events_sql(dbt_vars))


def fct_events_parameters(con: duckdb.DuckDBPyConnection, dbt_vars: Vars) -> dict[str, Any]:
    """The taxonomy as the warehouse has it now (seed events plus events registered by custom sources), and the
    most negative arrival lag the clock-skew tolerance allows."""
    sql = "select event_name from catalog.event_taxonomy"
    if table_exists(con, "raw.custom_events"):
        sql += " union select event_name from raw.custom_events"
    names = sorted(row[0] for row in con.execute(sql).fetchall() if row[0] is not None)
    _, tolerance = _event_time_bounds(dbt_vars)
    return {"allowed_event_names": names, "min_arrival_lag_seconds": -60 * tolerance}


def fct_events_expectations() -> list[Expectation]:
    gxe = gx_expectations()
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
        gxe.ExpectColumnValuesToBeBetween(
            column="arrival_lag_seconds", min_value={"$PARAMETER": "min_arrival_lag_seconds"}
        ),
        gxe.ExpectColumnValuesToBeOfType(column="message_id", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="user_id", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="event_name", type_=STRING_TYPE),
        gxe.ExpectColumnValuesToBeOfType(column="event_at", type_="datetime64"),
        gxe.ExpectColumnValuesToBeOfType(column="received_at", type_="datetime64"),
        gxe.ExpectColumnValuesToBeOfType(column="arrival_lag_seconds", type_="int64"),
    ]


# --- conservation ------------------------------------------------------------------------------------------


def load_conservation(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    # Every landed message ends up exactly once as valid, quarantined or a duplicate; and every valid one
    # reaches the fact table. Counting in SQL keeps this a one-row frame however large the warehouse.
    return query(
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


def conservation_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnValuesToBeBetween(column="difference", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="fct_difference", min_value=0, max_value=0),
    ]


# --- row counts --------------------------------------------------------------------------------------------


def load_row_counts(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    # GX's row-count expectation counts frame rows; a one-byte column keeps 2M rows at 2 MB.
    return query(con, "select 1::utinyint as row_marker from marts.fct_events")


def row_count_bounds(con: duckdb.DuckDBPyConnection, _vars: Vars) -> dict[str, Any]:
    """Bounds around the previous run's count; the first run has no history and only requires rows."""
    previous = previous_row_count(con, "row_counts")
    if previous is None:
        return {"min_row_count": 1, "max_row_count": None}
    return {
        "min_row_count": math.floor(previous * (1 - ROW_COUNT_MAX_DROP)),
        "max_row_count": math.ceil(previous * (1 + ROW_COUNT_MAX_GROWTH)),
    }


def row_counts_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": "min_row_count"}, max_value={"$PARAMETER": "max_row_count"}
        ),
    ]
