"""Data-quality suites against a tiny hand-built DuckDB warehouse, with real Great Expectations (no mocks).

The warehouse is built here with plain SQL — a few rows per table, just enough for every suite to have
something to judge — so these tests do not depend on dbt. Each test copies the good warehouse and injects one
defect, then checks that the right suite fails *and says why*: the expectation and the offending rows.
One GX file context (in a tmp dir, never the repo's ``expectations/``) is shared by the whole session,
because creating contexts and importing GX is the slow part. One test builds a tiny simulated warehouse with
dbt, to show the gates judge the data by the dbt vars the build used.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from pintel.build import build
from pintel.catalog import seeds_dir
from pintel.quality import (
    CRITICAL_SUITES,
    HISTORY_TABLE,
    SUITES,
    SuiteResult,
    SuiteSpec,
    build_data_docs,
    main_dq,
    run_all,
    run_suite,
    summary_text,
    sync_suites,
)
from pintel.settings import DBT_PROJECT_DIR, query
from pintel.simulate import SimConfig, simulate
from tests.support.warehouse import settings_for, without_dbt_artifacts

WAREHOUSE_SQL = """
create schema raw;
create schema staging;
create schema intermediate;
create schema marts;
create schema catalog;

create table catalog.event_taxonomy (event_name varchar, category varchar, description varchar);
insert into catalog.event_taxonomy values
    ('signed_up', 'lifecycle', 'account created'),
    ('page_viewed', 'navigation', 'a page'),
    ('report_created', 'feature', 'a report');

create table raw.custom_events (source varchar, event_name varchar, registered_at timestamp);
insert into raw.custom_events values ('partner', 'partner_synced', timestamp '2025-01-01 00:00:00');

create table raw.events (
    _row_id varchar not null, _file_id bigint not null, _row_number bigint not null, _source varchar not null,
    _loaded_at timestamp not null, message_id varchar, message_type varchar, event varchar, user_id varchar,
    anonymous_id varchar, event_timestamp varchar, received_at varchar, properties varchar, context varchar,
    raw_line varchar, is_parseable boolean not null, message_bytes bigint not null
);
insert into raw.events
select
    '1:' || i, 1, i, 'segment', timestamp '2025-01-20 00:00:00', 'm' || (case when i = 10 then 1 else i end),
    'track', 'page_viewed', 'u' || (i % 3), null, '2025-01-20T10:00:00Z', '2025-01-20T10:00:01Z', '{}', '{}',
    null, true, 200
from range(1, 11) as t(i);

create table staging.stg_segment__tracks as
select
    _row_id as raw_row_id, message_id,
    case _row_id when '1:8' then 'invalid_json' when '1:9' then 'missing_user_id' end as quarantine_reason
from raw.events;

create table intermediate.int_events_deduplicated as
select raw_row_id, message_id from staging.stg_segment__tracks where raw_row_id not in ('1:8', '1:9', '1:10');
create table intermediate.int_events_quarantined as
select raw_row_id, message_id, quarantine_reason from staging.stg_segment__tracks where quarantine_reason is not null;
create table intermediate.int_events_duplicated as
select raw_row_id, message_id from staging.stg_segment__tracks where raw_row_id = '1:10';

create table marts.fct_events as
select
    'm' || i as message_id,
    'u' || (i % 3) as user_id,
    case when i = 7 then 'partner_synced' when i % 2 = 0 then 'report_created' else 'page_viewed' end as event_name,
    null::varchar as feature_key,
    timestamp '2025-01-20 10:00:00' + to_minutes(i) as event_at,
    date '2025-01-20' as event_date,
    timestamp '2025-01-20 10:00:00' as event_hour,
    timestamp '2025-01-20 10:00:30' + to_minutes(i) as received_at,
    30::bigint as arrival_lag_seconds,
    'web' as platform, '1.0.0' as app_version, 'US' as event_country, '{}' as properties,
    'segment' as source_name, timestamp '2025-01-20 12:00:00' as loaded_at
from range(1, 8) as t(i);

create table marts.active_users_daily as
with days as (
    select (date '2025-01-01' + to_days(i::integer))::date as activity_date,
           case when dayofweek(date '2025-01-01' + to_days(i::integer)) in (0, 6) then 50 else 100 end as dau
    from range(0, 35) as t(i)
)
select activity_date, segment_dim, segment_value, dau::bigint as dau, (dau * 3)::bigint as wau,
       (dau * 6)::bigint as mau, dau / (dau * 6) as stickiness, true as is_full_mau_window
from days, (values ('all', 'all'), ('platform', 'web')) as s(segment_dim, segment_value);

create table marts.retention_cohorts as
select date '2025-01-06' + to_weeks(c) as cohort_week, w::integer as week_number, 100::bigint as cohort_users,
       90::bigint as eligible_users, (80 - w)::bigint as retained_users, (85 - w)::bigint as retained_or_later_users,
       (80 - w) / 90 as retention_rate, (85 - w) / 90 as retention_rate_unbounded
from range(0, 3) as a(c), range(0, 3) as b(w);
"""


@pytest.fixture(scope="session")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One GX file context for the session, in a tmp dir so tests never touch the repo's expectations/."""
    root = tmp_path_factory.mktemp("gx") / "expectations"
    sync_suites(root)
    return root


@pytest.fixture(scope="session")
def good_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "good.duckdb"
    con = duckdb.connect(str(path))
    con.execute(WAREHOUSE_SQL)
    # The quarantine vocabulary is the real seed, loaded the way `dbt seed` does.
    reasons = seeds_dir() / "quarantine_reasons.csv"
    con.execute(f"create table catalog.quarantine_reasons as select * from read_csv('{reasons}', header = true)")
    con.close()
    return path


@pytest.fixture
def warehouse(good_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the good warehouse, for a test to break."""
    path = tmp_path / "pintel.duckdb"
    shutil.copy(good_warehouse, path)
    return path


def _inject(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()


def _failure(result: SuiteResult, expectation: str, column: str | None = None) -> dict:
    matches = [
        f for f in result.failures if f["expectation"] == expectation and (column is None or f["column"] == column)
    ]
    assert matches, f"{expectation}({column}) not among failures: {result.failed_expectations}"
    return matches[0]


def test_registry_marks_the_blocking_suites() -> None:
    assert set(CRITICAL_SUITES) == {"fct_events", "active_users_daily", "conservation", "churn_predictions"}
    assert SUITES["fct_events"].asset == "marts.fct_events"
    assert SUITES["churn_predictions"].optional


def test_all_suites_pass_on_good_data(warehouse: Path, gx_root: Path) -> None:
    results = run_all(warehouse, context_root=gx_root, record=False)
    by_name = {r.suite: r for r in results}
    assert set(by_name) == set(SUITES)
    failing = {r.suite: r.failures for r in results if not r.success}
    assert not failing, failing
    assert by_name["fct_events"].evaluated >= 10
    assert by_name["fct_events"].observed_row_count == 7
    assert by_name["dau_distribution"].status == "passed"
    json.dumps([r.to_metadata() for r in results])  # Dagster metadata must be JSON-serialisable


def test_suites_run_side_by_side_as_one_after_another(warehouse: Path, gx_root: Path) -> None:
    # Two defects, one in a suite with a SELECT (started first in a worker) and one in a small suite.
    _inject(
        warehouse,
        """
        update marts.fct_events set message_id = 'm1' where message_id = 'm2';
        update marts.active_users_daily set dau = mau + 1 where activity_date = date '2025-01-03';
        """,
    )
    serial = run_all(warehouse, context_root=gx_root, record=False, workers=1)
    parallel = run_all(warehouse, context_root=gx_root, record=False, workers=2)

    def comparable(results: list[SuiteResult]) -> list[dict]:
        return [
            {k: v for k, v in r.to_metadata().items() if k not in ("run_time_seconds", "run_id", "validated_at")}
            for r in results
        ]

    assert [r.suite for r in parallel] == list(SUITES)  # registry order, whichever worker finished first
    assert comparable(parallel) == comparable(serial)
    assert {r.suite for r in parallel if not r.success} == {"fct_events", "active_users_daily"}
    with pytest.raises(ValueError, match="workers"):
        run_all(warehouse, context_root=gx_root, record=False, workers=0)


def test_a_worker_that_dies_is_an_error_not_a_pass(
    warehouse: Path, gx_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker killed mid-suite (the kernel's OOM killer, say) must not let its suite pass.
    dying = SuiteSpec(
        name="dies_mid_suite",
        asset="marts.fct_events",
        critical=True,
        description="a loader whose process dies",
        load=lambda _con, _vars: os._exit(9),
        expectations=lambda: [],
    )
    monkeypatch.setitem(SUITES, dying.name, dying)
    results = run_all(warehouse, [dying.name, "conservation"], context_root=gx_root, record=False, workers=2)
    assert [r.suite for r in results] == [dying.name, "conservation"]
    assert results[0].status == "error" and results[0].blocking
    assert "suite_error" in results[0].failed_expectations[0]
    # The pool is broken for every job still running then: each is an error or its real result, never a pass.
    assert results[1].status in ("error", "passed") and (results[1].status == "passed") == results[1].success


def test_churn_suite_is_skipped_until_the_table_exists(warehouse: Path, gx_root: Path) -> None:
    skipped = run_suite(warehouse, "churn_predictions", context_root=gx_root, record=False)
    assert skipped.status == "skipped"
    assert skipped.success and not skipped.blocking
    assert "ml.churn_scores_v2" in (skipped.skip_reason or "")

    _inject(
        warehouse,
        """
        create schema ml;
        create table ml.churn_scores_v2 as
        select * from (values
            ('u1', date '2025-03-01', 0.2, 'low', 'v1', 'abc'),
            ('u2', date '2025-03-01', 1.2, 'high', 'v1', 'abc'),
            ('u2', date '2025-03-01', 0.9, 'high', 'v1', 'abc')
        ) as t(user_id, snapshot_date, churn_probability, risk_band, model_version, model_hash);
        """,
    )
    judged = run_suite(warehouse, "churn_predictions", context_root=gx_root, record=False)
    assert judged.status == "failed"
    assert "expect_column_values_to_be_between(churn_probability)" in judged.failed_expectations
    unique = _failure(judged, "expect_compound_columns_to_be_unique")
    assert {"user_id": "u2", "snapshot_date": "2025-03-01T00:00:00", "model_version": "v1"} in unique["observed"][
        "unexpected_rows"
    ]


def test_dau_above_mau_fails_naming_expectation_and_rows(warehouse: Path, gx_root: Path) -> None:
    _inject(
        warehouse,
        "update marts.active_users_daily set dau = mau + 5 "
        "where activity_date = date '2025-01-15' and segment_dim = 'platform'",
    )
    result = run_suite(warehouse, "active_users_daily", context_root=gx_root, record=False)
    assert not result.success and result.critical and result.blocking
    failure = _failure(result, "expect_column_pair_values_a_to_be_greater_than_b", "wau,dau")
    assert failure["observed"]["unexpected_count"] == 1
    row = failure["observed"]["unexpected_rows"][0]
    assert row["activity_date"].startswith("2025-01-15")
    assert (row["segment_dim"], row["segment_value"]) == ("platform", "web")
    assert "wau,dau" in summary_text([result])


def test_duplicate_message_id_fails_fct_events_naming_the_ids(warehouse: Path, gx_root: Path) -> None:
    _inject(warehouse, "insert into marts.fct_events select * from marts.fct_events where message_id = 'm3'")
    result = run_suite(warehouse, "fct_events", context_root=gx_root, record=False)
    assert result.blocking
    failure = _failure(result, "expect_column_values_to_be_unique", "message_id")
    assert failure["observed"]["unexpected_count"] == 2
    assert {row["message_id"] for row in failure["observed"]["unexpected_rows"]} == {"m3"}


def test_fct_events_rejects_unknown_events_and_future_timestamps(warehouse: Path, gx_root: Path) -> None:
    _inject(
        warehouse,
        """
        update marts.fct_events set event_name = 'made_up_event' where message_id = 'm2';
        update marts.fct_events set event_at = received_at + to_hours(2) where message_id = 'm5';
        """,
    )
    result = run_suite(warehouse, "fct_events", context_root=gx_root, record=False)
    unknown = _failure(result, "expect_column_values_to_be_in_set", "event_name")
    assert unknown["observed"]["unexpected_rows"] == [{"event_name": "made_up_event", "message_id": "m2"}]
    assert "partner_synced" in unknown["kwargs"]["value_set"]  # custom events are read from the warehouse
    future = _failure(result, "expect_column_pair_values_a_to_be_greater_than_b", "latest_valid_event_at,event_at")
    assert [row["message_id"] for row in future["observed"]["unexpected_rows"]] == ["m5"]


def test_broken_conservation_fails(warehouse: Path, gx_root: Path) -> None:
    _inject(warehouse, "delete from intermediate.int_events_quarantined where raw_row_id = '1:8'")
    result = run_suite(warehouse, "conservation", context_root=gx_root, record=False)
    assert result.blocking
    failure = _failure(result, "expect_column_values_to_be_between", "difference")
    assert failure["observed"]["partial_unexpected_list"] == [1]
    counts = failure["observed"]["unexpected_rows"][0]
    assert (counts["raw_rows"], counts["quarantined_rows"]) == (10, 1)


def test_staging_reason_outside_vocabulary_fails(warehouse: Path, gx_root: Path) -> None:
    _inject(warehouse, "update staging.stg_segment__tracks set quarantine_reason = 'gremlins' where raw_row_id = '1:9'")
    result = run_suite(warehouse, "staging_tracks", context_root=gx_root, record=False)
    assert not result.success and not result.blocking
    failure = _failure(result, "expect_column_values_to_be_in_set", "quarantine_reason")
    assert failure["observed"]["unexpected_rows"] == [
        {"quarantine_reason": "gremlins", "raw_row_id": "1:9", "message_id": "m9"}
    ]


def test_dau_outside_trailing_band_fails(warehouse: Path, gx_root: Path) -> None:
    _inject(
        warehouse,
        "update marts.active_users_daily set dau = dau * 4, wau = wau * 4, mau = mau * 4 "
        "where activity_date = (select max(activity_date) from marts.active_users_daily)",
    )
    result = run_suite(warehouse, "dau_distribution", context_root=gx_root, record=False)
    failure = _failure(result, "expect_column_values_to_be_between", "dau_ratio")
    assert failure["observed"]["partial_unexpected_list"] == [4.0]


def test_missing_required_table_is_an_error_not_a_pass(warehouse: Path, gx_root: Path) -> None:
    _inject(warehouse, "drop table marts.fct_events")
    result = run_suite(warehouse, "fct_events", context_root=gx_root, record=False)
    assert result.status == "error" and result.blocking
    assert "marts.fct_events" in result.failures[0]["observed"]["exception"]


def test_results_are_recorded_and_row_counts_compare_with_history(warehouse: Path, gx_root: Path) -> None:
    first = run_all(warehouse, ["fct_events", "row_counts", "churn_predictions"], context_root=gx_root)
    assert all(r.success for r in first)
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        f"select suite, status, observed_row_count, failures_json from {HISTORY_TABLE} order by suite"
    ).fetchall()
    con.close()
    assert [(s, st, n) for s, st, n, _ in rows] == [
        ("churn_predictions", "skipped", None),
        ("fct_events", "passed", 7),
        ("row_counts", "passed", 7),
    ]
    assert json.loads(rows[0][3]) == []

    # Tripling the fact table is more growth than the tolerance allows against the recorded count of 7.
    _inject(
        warehouse,
        "insert into marts.fct_events select * replace (message_id || 'x' as message_id) from marts.fct_events",
    )
    _inject(
        warehouse,
        "insert into marts.fct_events select * replace (message_id || 'y' as message_id) from marts.fct_events",
    )
    second = run_suite(warehouse, "row_counts", context_root=gx_root)
    assert second.status == "failed" and not second.blocking
    failure = _failure(second, "expect_table_row_count_to_be_between")
    assert failure["observed"]["observed_value"] == 28
    assert failure["kwargs"]["max_value"] == 14
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute(f"select count(*) from {HISTORY_TABLE}").fetchone() == (4,)
    con.close()


def test_main_dq_exit_code_summary_and_data_docs(
    warehouse: Path, gx_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    assert main_dq(warehouse, reports, context_root=gx_root) == 0
    assert (reports / "data_docs" / "index.html").exists()
    assert "data quality OK" in capsys.readouterr().out

    _inject(warehouse, "update marts.active_users_daily set dau = mau + 1 where activity_date = date '2025-01-03'")
    assert main_dq(warehouse, reports, context_root=gx_root) == 1
    out = capsys.readouterr().out
    assert "BLOCKED" in out and "[CRITICAL] active_users_daily" in out
    results = json.loads((reports / "data_quality.json").read_text())
    assert {r["suite"] for r in results if not r["success"]} == {"active_users_daily"}


def test_build_data_docs_writes_html_without_touching_committed_config(warehouse: Path, gx_root: Path) -> None:
    run_suite(warehouse, "conservation", context_root=gx_root, record=False)
    config = gx_root / "gx" / "great_expectations.yml"
    before = config.read_text()
    index = build_data_docs(warehouse.parent / "docs", context_root=gx_root)
    assert index.exists() and index.name == "index.html"
    assert "conservation" in index.read_text()
    assert config.read_text() == before


def test_suites_are_persisted_as_reviewable_json(gx_root: Path) -> None:
    expectations_dir = gx_root / "gx" / "expectations"
    for name in SUITES:
        suite = json.loads((expectations_dir / f"{name}.json").read_text())
        assert suite["name"] == name
        assert suite["meta"]["pintel"]["critical"] == SUITES[name].critical
    fct = (expectations_dir / "fct_events.json").read_text()
    assert '"$PARAMETER": "allowed_event_names"' in fct  # taxonomy is read at validation time, not frozen
    mtimes = {p: p.stat().st_mtime_ns for p in expectations_dir.glob("*.json")}
    sync_suites(gx_root)
    assert {p: p.stat().st_mtime_ns for p in expectations_dir.glob("*.json")} == mtimes  # no churn


def test_fct_events_gate_follows_the_clock_skew_tolerance_the_build_used(tmp_path: Path, gx_root: Path) -> None:
    """Raise ``future_tolerance_minutes`` for one build (``--vars``): the staging model keeps messages stamped up to
    200 days after receipt, and the critical gate, given the same vars, agrees -- while the project's default of
    60 minutes would block exactly those rows. No threshold of the gate is a Python constant."""
    manifest = simulate(SimConfig(users=150, days=14, seed=8, defect_rate=0.05, incidents=False), tmp_path / "landing")
    settings = settings_for(tmp_path, tmp_path / "landing").with_vars(future_tolerance_minutes=200 * 24 * 60)
    with without_dbt_artifacts():
        build(settings, select=["+fct_events", "+int_events_quarantined"])
    counts = query(
        settings.warehouse,
        "select (select count(*) from marts.fct_events where event_at > received_at + interval 1 hour) as ahead, "
        "(select count(*) from intermediate.int_events_quarantined where quarantine_reason = 'future_timestamp') "
        "as still_future",
    ).iloc[0]
    ahead, still_future = int(counts.ahead), int(counts.still_future)
    # Planted future timestamps are 2-400 days ahead: some are now valid, the rest still quarantined.
    assert ahead > 0 and still_future > 0
    assert ahead + still_future == manifest["counts"]["quarantined_by_reason"]["future_timestamp"]

    agreed = run_suite(settings.warehouse, "fct_events", context_root=gx_root, record=False, dbt_vars=settings.dbt_vars)
    assert agreed.status == "passed", agreed.failures
    assert agreed.parameters["min_arrival_lag_seconds"] == -200 * 24 * 3600

    default = run_suite(settings.warehouse, "fct_events", context_root=gx_root, record=False, dbt_vars={})
    assert default.blocking
    late = _failure(default, "expect_column_pair_values_a_to_be_greater_than_b", "latest_valid_event_at,event_at")
    assert late["observed"]["unexpected_count"] == ahead


def test_each_invariant_names_the_one_check_that_guards_it() -> None:
    """Models declare in meta.invariants which single check guards an invariant; that check exists and blocks."""
    declared = [
        (model["name"], invariant)
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", [])
        for invariant in (model.get("config") or {}).get("meta", {}).get("invariants", [])
    ]
    assert {name for name, _ in declared} >= {"fct_events", "active_users_daily", "retention_cohorts"}
    for name, invariant in declared:
        if invariant["checked_by"] == "great_expectations":
            assert SUITES[invariant["check"]].critical, (name, invariant)
        else:
            assert invariant["checked_by"] == "dbt", (name, invariant)
            assert (DBT_PROJECT_DIR / "tests" / f"{invariant['check']}.sql").exists(), (name, invariant)
