"""Suites on the metric marts and the served predictions: coherent headline numbers, plausible trends.

Each suite is a loader (one read-only query) and a list of GX expectations; the registry in
:mod:`pintel.quality.suites` names them. See that module for the design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from pintel.quality.spec import Vars, gx_expectations, query

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# Latest day's DAU against the median of the same weekday over the trailing four weeks.
DAU_BAND = (0.5, 1.5)
DAU_BASELINE_MIN_DAYS = 2

# --- active users ------------------------------------------------------------------------------------------


def load_active_users_daily(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    return query(
        con,
        """
        select activity_date, segment_dim, segment_value, dau, wau, mau, stickiness
        from marts.active_users_daily
        """,
    )


def active_users_daily_expectations() -> list[Expectation]:
    gxe = gx_expectations()
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


def load_dau_distribution(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    # The latest day's all-users DAU against the median of the same weekday over the four weeks before it:
    # same weekday because weekend DAU is about half of weekday DAU. Only the latest day is judged, since a
    # historical dip cannot be fixed and would fail every run after it. Too little history -> null ratio,
    # which GX's between-check ignores, so young warehouses pass.
    return query(
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


def dau_distribution_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    low, high = DAU_BAND
    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnValuesToBeBetween(column="dau_ratio", min_value=low, max_value=high),
    ]


# --- retention ---------------------------------------------------------------------------------------------


def load_retention_cohorts(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    return query(
        con,
        """
        select cohort_week, week_number, retention_rate, retention_rate_unbounded
        from marts.retention_cohorts
        """,
    )


def retention_cohorts_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    return [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["cohort_week", "week_number"]),
        gxe.ExpectColumnValuesToBeBetween(column="retention_rate", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="retention_rate_unbounded", min_value=0, max_value=1),
        # retained <= retained or later <= eligible <= cohort is guarded once, by the blocking dbt test
        # assert_retention_cohorts_counts_are_nested (this suite only warns).
    ]


# --- churn predictions -------------------------------------------------------------------------------------


def load_churn_predictions(con: duckdb.DuckDBPyConnection, _vars: Vars) -> pd.DataFrame:
    return query(
        con,
        "select user_id, snapshot_date, churn_probability, risk_band, model_version, model_hash "
        "from ml.churn_scores_v2",
    )


def churn_predictions_expectations() -> list[Expectation]:
    gxe = gx_expectations()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="snapshot_date"),
        gxe.ExpectColumnValuesToNotBeNull(column="model_version"),
        gxe.ExpectColumnValuesToNotBeNull(column="churn_probability"),
        gxe.ExpectColumnValuesToBeBetween(column="churn_probability", min_value=0, max_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "snapshot_date", "model_version"]),
    ]
