"""The warehouse is exact against the simulator's truth, loses nothing, is idempotent and incremental."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pintel.build import build as _build
from pintel.build import run_dbt
from pintel.ingest.landing import load_landing
from pintel.settings import Settings, query
from pintel.simulate import DEFECT_REASONS, SimConfig, simulate
from tests.support.landing import copy_landing, landing_days
from tests.support.warehouse import SQL_LAYER_TESTS, copy_warehouse, settings_for, without_dbt_artifacts

MART_TABLES = (
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.fct_user_daily",
    "marts.dim_users",
    "marts.active_users_daily",
    "marts.retention_cohorts",
    "marts.funnel_conversion",
    "marts.fct_user_features",
    "marts.activity_hourly",
    "marts.event_segments_hourly",
    "marts.fct_churn_labels",
    "marts.fct_flag_user_hourly",
    "marts.flag_metrics_hourly",
    "intermediate.int_events_quarantined",
    "intermediate.int_events_duplicated",
    "intermediate.int_user_hourly_segments",
)


def build(settings: Settings, *select: str, data_tests: bool = True):
    """The warehouse proper (the ML models have their own tests and need more history than these fixtures), or
    only the lineage of ``select`` when a test reads just those models. Without dbt's JSON artifacts (no test
    here reads them); like every production build, without dbt's unit tests (tests/test_dbt_unit_tests.py).
    ``data_tests=False`` leaves out the SQL layer's data tests too, for a build whose rows are what is compared
    (about a third of a small build's CPU is its ~290 data-test nodes)."""
    exclude = [] if data_tests else list(SQL_LAYER_TESTS)
    with without_dbt_artifacts():
        if select:
            return _build(settings, select=[f"+{model}" for model in select], exclude=exclude or None)
        return _build(settings, exclude=["path:models/ml", *exclude])


def _settings(root: Path, landing: Path) -> Settings:
    return settings_for(root, landing)


LOAD_ORDER_COLUMNS = ("loaded_at", "refreshed_at", "file_id", "raw_row_id")
"""Column name endings a fingerprint leaves out: when a row was loaded or written, and the ids the loader gives
files in load order (a batch landed late gets a later file_id than in a whole build; kept_raw_row_id too)."""


def _fingerprint(settings: Settings, tables=MART_TABLES) -> dict[str, str]:
    """Order-independent content hash per table, without the LOAD_ORDER_COLUMNS (they record when, not what)."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    out = {}
    try:
        for table in tables:
            cols = [r[0] for r in con.execute(f"describe {table}").fetchall() if not r[0].endswith(LOAD_ORDER_COLUMNS)]
            rows = con.execute(f"select {', '.join(cols)} from {table}").fetchall()
            out[table] = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def built(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """This module's own copy of the shared small warehouse: some tests here rebuild it."""
    return copy_warehouse(small_warehouse, tmp_path_factory.mktemp("warehouse"))


def test_daily_counts_equal_the_truth_exactly(built: Settings, small_sim: Path) -> None:
    truth = pd.read_parquet(small_sim / "ground_truth" / "daily_metrics.parquet")
    truth["date"] = pd.to_datetime(truth["date"])
    got = query(
        built.warehouse,
        "select event_date as date, count(*) as valid_events, count(distinct user_id) as dau "
        "from marts.fct_events group by 1",
    )
    signups = query(
        built.warehouse, "select signup_date as date, signups from marts.signups_daily where segment_dim = 'all'"
    )
    dau = query(
        built.warehouse, "select activity_date as date, dau from marts.active_users_daily where segment_dim = 'all'"
    )
    for frame in (got, signups, dau):
        frame["date"] = pd.to_datetime(frame["date"])
    merged = truth.merge(got, on="date", suffixes=("", "_wh")).merge(signups, on="date", suffixes=("", "_wh"))
    merged = merged.merge(dau, on="date", suffixes=("", "_mart"))
    assert len(merged) == len(truth)
    assert (merged["valid_events"] == merged["valid_events_wh"]).all()
    assert (merged["dau"] == merged["dau_wh"]).all()
    assert (merged["dau"] == merged["dau_mart"]).all()
    assert (merged["signups"] == merged["signups_wh"]).all()


def test_quarantine_equals_planted_defects_and_nothing_is_lost(built: Settings, small_manifest: dict) -> None:
    reasons = query(
        built.warehouse, "select quarantine_reason, count(*) as n from intermediate.int_events_quarantined group by 1"
    )
    got = dict(zip(reasons["quarantine_reason"], reasons["n"], strict=True))
    assert got == {r: small_manifest["counts"]["quarantined_by_reason"][r] for r in DEFECT_REASONS}
    counts = query(
        built.warehouse,
        "select (select count(*) from raw.events) as raw_rows, "
        "(select count(*) from intermediate.int_events_deduplicated) as valid_rows, "
        "(select count(*) from intermediate.int_events_quarantined) as quarantined, "
        "(select count(*) from intermediate.int_events_duplicated) as duplicates",
    ).iloc[0]
    assert counts.raw_rows == counts.valid_rows + counts.quarantined + counts.duplicates
    assert counts.duplicates == small_manifest["counts"]["duplicates"]
    assert counts.valid_rows == small_manifest["counts"]["valid_events"]


def test_metric_marts_are_consistent(built: Settings) -> None:
    bad = query(built.warehouse, "select * from marts.active_users_daily where not (dau <= wau and wau <= mau)")
    assert bad.empty
    sessions = query(built.warehouse, "select min(duration_seconds) as lo, count(*) as n from marts.fct_sessions").iloc[
        0
    ]
    assert sessions.lo >= 0 and sessions.n > 0
    funnel = query(
        built.warehouse,
        "select cohort_week, list(users_reached order by step_order) as r from marts.funnel_conversion group by 1",
    )
    assert all(list(r) == sorted(r, reverse=True) for r in funnel["r"])


LATE_EXPOSURE_BATCHES = """
with exposures as (
    select exposures.flag_key, exposures.user_id, exposures.served_from, exposures.known_at, events.file_id
    from intermediate.int_flag_exposures_sequenced as exposures
    inner join intermediate.int_events_deduplicated as events on exposures.message_id = events.message_id
),
flags as (select flag_key, min(served_from) as live_at from exposures group by flag_key),
first_batches as (
    select exposures.flag_key, exposures.file_id
    from exposures inner join flags on exposures.flag_key = flags.flag_key and exposures.served_from = flags.live_at
),
single_batch_users as (
    select flag_key, user_id, min(file_id) as file_id, min(known_at) as first_known_at
    from exposures
    group by flag_key, user_id
    having count(distinct file_id) = 1
),
newly_eligible as (
    select min(users.file_id) as file_id
    from single_batch_users as users
    inner join flags on users.flag_key = flags.flag_key
    where users.flag_key != (select arg_min(flag_key, live_at) from flags)
        and users.file_id not in (select file_id from first_batches)
        and exists (
            select 1 from marts.fct_flag_user_hourly as kept
            where kept.flag_key = users.flag_key and kept.user_id = users.user_id and kept.variant is null
                and kept.received_hour < date_trunc('hour', users.first_known_at)
        )
    group by users.flag_key
)
select path from raw.ingested_files
where file_id in (select file_id from first_batches where flag_key = (select arg_min(flag_key, live_at) from flags))
    or file_id in (select file_id from newly_eligible)
"""
"""Batches the flag marts must absorb late (from a whole build). The first flag to go live: the batch of its first
exposure (held back, the flag goes live earlier and its pre-period starts earlier for every user). Every other flag:
a batch holding every exposure of a user whose kept events before it arrived in earlier batches (held back, only
that user's eligibility changes when it lands, and their earlier events must come back)."""


def test_incremental_build_processes_only_new_batches(tmp_path: Path) -> None:
    full = tmp_path / "full"
    simulate(SimConfig(users=300, days=30, seed=21), full)
    scratch = _settings(tmp_path / "scratch", full)
    build(scratch, data_tests=False)
    last_day = landing_days(full)[-1]
    partial = tmp_path / "partial"
    copy_landing(full, partial, kinds=("identifies",))
    copy_landing(full, partial, before=last_day, kinds=("events",))  # the last day's batches are held back
    # and one hour's batch from mid-window: late events for old hours, which the hourly marts must still count
    days = landing_days(full)
    sorted((partial / "events" / f"date={days[len(days) // 3]}").rglob("*.parquet"))[5].unlink()
    # and the batches of late exposures: earlier go-lives and newly eligible users for the flag marts
    late = [
        partial / Path(path).relative_to(full.resolve())
        for path in query(scratch.warehouse, LATE_EXPOSURE_BATCHES)["path"]
    ]
    assert len([path for path in late if path.exists()]) >= 2
    for path in late:
        path.unlink(missing_ok=True)
    incremental = _settings(tmp_path / "inc", partial)
    first = build(incremental, data_tests=False)  # the new day's build runs the data tests
    new_files = copy_landing(full, partial, kinds=("events",))
    second = build(incremental)
    assert second.load.loaded_files == {"events": new_files}
    assert second.load.new_rows < first.load.new_rows / 10
    # the incremental run's data tests on incremental models read the late-arrival lookback of the newest load
    # (macros/recent_loads.sql), tests on other tables the whole table
    compiled = incremental.warehouse.parent / "dbt_target" / "run" / "pintel" / "models" / "marts"
    scoped = [path.read_text() for path in (compiled / "fct_events.yml").glob("not_null_fct_events_user_id*.sql")]
    assert scoped and all("loaded_at >=" in text for text in scoped)
    whole = [path.read_text() for path in (compiled / "dim_users.yml").glob("not_null_dim_users_user_id*.sql")]
    assert whole and not any("loaded_at >=" in text for text in whole)
    after_new_day = _fingerprint(incremental)
    assert after_new_day == _fingerprint(scratch)
    # reloading the same landing loads nothing, and rebuilding on it changes no row
    report = load_landing(incremental.landing, incremental.warehouse)
    assert report.new_rows == 0 and report.skipped_files > 0
    build(incremental, data_tests=False)
    assert _fingerprint(incremental) == after_new_day


def test_foreign_csv_builds_dau_and_retention(tmp_path: Path, small_sim: Path) -> None:
    from click.testing import CliRunner

    from pintel.cli import main

    con = duckdb.connect()
    export = con.sql(
        f"""
        select "userId" as account, event as action, replace(replace("timestamp", 'T', ' '), 'Z', '') as happened_at,
               properties as payload
        from read_parquet('{small_sim}/events/*/*/*.parquet')
        where "userId" in (select "userId" from read_parquet('{small_sim}/events/*/*/*.parquet') limit 200)
          and try_cast("timestamp" as timestamptz) < '2025-03-01'
          and json_valid(properties) and strlen(properties) < 30000 and properties not like '%"n/a"%'
        """
    ).df()
    export = export.drop_duplicates()
    csv = tmp_path / "export.csv"
    export.to_csv(csv, index=False)
    landing = tmp_path / "landing"
    runner = CliRunner()
    bad = runner.invoke(
        main,
        [
            "ingest",
            str(csv),
            "--user-col",
            "nope",
            "--event-col",
            "action",
            "--time-col",
            "happened_at",
            "--landing",
            str(landing),
        ],
    )
    assert bad.exit_code == 1 and "not found" in bad.output and "account" in bad.output
    ok = runner.invoke(
        main,
        [
            "ingest",
            str(csv),
            "--user-col",
            "account",
            "--event-col",
            "action",
            "--time-col",
            "happened_at",
            "--properties-col",
            "payload",
            "--source",
            "acme",
            "--landing",
            str(landing),
        ],
    )
    assert ok.exit_code == 0, ok.output
    settings = _settings(tmp_path / "wh", landing)
    build(settings, "active_users_daily", "retention_cohorts", "int_events_quarantined")
    export["date"] = pd.to_datetime(export["happened_at"].dropna()).dt.date
    expected = export.dropna(subset=["account", "date"]).groupby("date")["account"].nunique()
    got = query(settings.warehouse, "select activity_date, dau from marts.active_users_daily where segment_dim = 'all'")
    got = got.set_index(pd.to_datetime(got["activity_date"]).dt.date)["dau"]
    assert (got.reindex(expected.index) == expected).all()
    retention = query(
        settings.warehouse, "select * from marts.retention_cohorts where week_number = 1 and eligible_users > 0"
    )
    assert not retention.empty and retention["retention_rate"].between(0, 1).all()
    quarantined = query(settings.warehouse, "select count(*) as n from intermediate.int_events_quarantined").iloc[0].n
    assert quarantined == 0


def test_jsonl_batches_are_validated_the_same_way(tmp_path: Path) -> None:
    manifest = simulate(
        SimConfig(users=150, days=14, seed=8, fmt="jsonl", defect_rate=0.03, incidents=False), tmp_path / "landing"
    )
    settings = _settings(tmp_path / "wh", tmp_path / "landing")
    build(settings, "fct_events", "int_events_quarantined")
    reasons = query(
        settings.warehouse,
        "select quarantine_reason, count(*) as n from intermediate.int_events_quarantined group by 1",
    )
    assert dict(zip(reasons["quarantine_reason"], reasons["n"], strict=True)) == {
        r: n for r, n in manifest["counts"]["quarantined_by_reason"].items() if n
    }
    valid = query(settings.warehouse, "select count(*) as n from marts.fct_events").iloc[0].n
    assert valid == manifest["counts"]["valid_events"]


def test_dbt_docs_generate(built: Settings) -> None:
    run_dbt(built, ["docs", "generate"])
    target = built.warehouse.parent / "dbt_target"
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    assert any(key.endswith("fct_events") for key in catalog["nodes"])
