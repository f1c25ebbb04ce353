"""A suite over ``batch_rows`` is validated in hash partitions: the merged result must equal the whole-table run's.

Hand-made tables in a tmp DuckDB file and a tiny bound, so partitioning kicks in on a few hundred rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pintel.quality import partitions
from pintel.quality.docs import build_data_docs
from pintel.quality.results import SuiteResult
from pintel.quality.runner import PARTIAL_UNEXPECTED_COUNT, run_suite
from pintel.quality.spec import STRING_TYPE, SuiteSpec, gx_expectations, query
from pintel.quality.suites import SUITES

ROWS = 400
WHOLE = 10**9
# id-dup twice and id-dup2 three times: 5 rows in duplicated groups.
TABLE_SQL = f"""
create schema t;
create table t.events as
select
    case when i in (10, 11) then 'id-dup' when i in (20, 21, 22) then 'id-dup2' else 'id-' || i end as id,
    case when i = {ROWS - 1} then 0 else i % 50 end as a,
    case when i = {ROWS - 1} then 0 else i // 50 end as b,
    case when i in (3, 4, 5) then -1.0 when i in (6, 7, 8, 9) then null else i * 1.0 end as x,
    case when i % 67 = 1 then 'r' when i % 101 = 2 then null when i % 2 = 0 then 'p' else 'q' end as s,
    i as lo,
    case when i in (30, 31) then i - 1 else i + 1 end as hi
from range({ROWS}) as r(i);
create table t.clean as
select 'id-' || i as id, i % 50 as a, i // 50 as b, i * 1.0 as x, 'p' as s, i as lo, i + 1 as hi
from range({ROWS}) as r(i);
create table t.empty as select * from t.clean where false;
create schema marts;
create schema catalog;
create table catalog.event_taxonomy as select * from (values ('page_viewed'), ('report_created')) as e(event_name);
-- the real fct_events suite's columns: a duplicated message id (3 rows), a replayed export (every 40th row sent
-- twice under a new id: 8 pairs, 5 % of rows, over the 0.1 % tolerated), an unknown event, a future timestamp
create table marts.fct_events as
with events as (
    select
        case when i in (5, 6, 7) then 'm-dup' else 'm' || i end as message_id,
        'u' || (i % 13) as user_id,
        case when i = 9 then 'partner_synced' when i % 2 = 0 then 'report_created' else 'page_viewed' end
            as event_name,
        timestamp '2025-01-20 10:00:00' + to_minutes(i) + case when i = 11 then interval 1 day else interval 0 day
            end as event_at,
        timestamp '2025-01-20 10:00:30' + to_minutes(i) as received_at,
        timestamp '2025-01-20 12:00:00' as loaded_at
    from range(300) as r(i)
)
select
    message_id, user_id, event_name, event_at, event_at::date as event_date, received_at, loaded_at,
    datediff('second', event_at, received_at)::bigint as arrival_lag_seconds
from events
union all
select 'replay-' || i, user_id, event_name, event_at, event_at::date, received_at, loaded_at, 30::bigint
from events, range(8) as r(i) where message_id = 'm' || (i * 40 + 1);
"""


def _expectations(mostly: float, row_max: int) -> Any:
    def build() -> list[Any]:
        gxe = gx_expectations()
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectTableRowCountToBeBetween(max_value=row_max),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["a", "b"], mostly=mostly),
            gxe.ExpectColumnValuesToNotBeNull(column="x"),
            gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0),
            gxe.ExpectColumnValuesToBeInSet(column="s", value_set=["p", "q"]),
            gxe.ExpectColumnValuesToMatchRegex(column="id", regex=r"^id-\d+$"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="hi", column_B="lo"),
            gxe.ExpectColumnValuesToBeOfType(column="id", type_=STRING_TYPE),
        ]

    return build


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("partitions") / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(TABLE_SQL)
    con.close()
    return path


@pytest.fixture(scope="module")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gx") / "expectations"


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Register a probe suite on one of the hand-made tables (the runner takes suites from the registry)."""

    def register(table: str, mostly: float = 0.99, row_max: int = ROWS - 1, expectations: Any = None) -> str:
        name = f"probe_{table}_{str(mostly).replace('.', '_')}_{row_max}"
        sql = f"select id, a, b, x, s, lo, hi from t.{table}"
        spec = SuiteSpec(
            name=name,
            asset=f"t.{table}",
            critical=True,
            description="partition probe",
            load=lambda con, _vars: query(con, sql),
            sql=lambda _vars: sql,
            expectations=expectations or _expectations(mostly, row_max),
            index_columns=("id",),
            requires=(f"t.{table}",),
        )
        monkeypatch.setitem(SUITES, name, spec)
        return name

    yield register


def _comparable(result: SuiteResult) -> dict[str, Any]:
    failures = {}
    for failure in result.failures:
        observed = dict(failure["observed"])
        every_row_shown = (observed.get("unexpected_count") or 0) <= PARTIAL_UNEXPECTED_COUNT
        for sample in ("partial_unexpected_list", "unexpected_rows", "partial_unexpected_counts"):
            if sample in observed and every_row_shown:  # the same rows, maybe in another order
                observed[sample] = sorted(json.dumps(v, sort_keys=True) for v in observed[sample])
            elif sample in observed:  # more than the sample holds: another, equally real, first N
                observed[sample] = len(observed[sample]) if sample != "partial_unexpected_counts" else None
        failures[(failure["expectation"], json.dumps(failure["kwargs"], sort_keys=True))] = observed
    return {
        "status": result.status,
        "evaluated": result.evaluated,
        "failed": result.failed,
        "rows": result.observed_row_count,
        "failures": failures,
    }


def _stored(gx_root: Path, suite: str, run_id: str) -> list[dict[str, Any]]:
    folder = gx_root / "gx" / "uncommitted" / "validations" / suite / run_id
    return [json.loads(p.read_text()) for p in folder.rglob("*.json")]


@pytest.mark.parametrize("batch_rows", [150, 41], ids=["3-partitions", "10-partitions"])
def test_merged_failures_equal_the_whole_table_run(warehouse: Path, gx_root: Path, suite: Any, batch_rows: int) -> None:
    name = suite("events")
    whole = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=WHOLE)
    parted = run_suite(
        warehouse, name, context_root=gx_root, record=False, batch_rows=batch_rows, run_id=f"parted-{batch_rows}"
    )
    assert _comparable(parted) == _comparable(whole)
    failed = {f["expectation"]: f["observed"] for f in whole.failures}
    # Each defect is caught, with GX's counts: the duplicated ids (5 rows), the row-count cap (table-level).
    assert failed["expect_column_values_to_be_unique"]["unexpected_count"] == 5
    assert failed["expect_table_row_count_to_be_between"]["observed_value"] == ROWS
    assert failed["expect_column_values_to_not_be_null"]["unexpected_count"] == 4
    assert failed["expect_column_values_to_be_between"]["unexpected_percent"] == pytest.approx(3 / (ROWS - 4) * 100)
    assert failed["expect_column_pair_values_a_to_be_greater_than_b"]["unexpected_count"] == 2
    # 2 of 400 (a, b) rows repeat: 99.5 % unique passes mostly=0.99 on the totals, though every partition
    # holding them (~40 rows at 10 partitions) is below 99 % on its own.
    assert "expect_compound_columns_to_be_unique" not in failed
    stored = _stored(gx_root, name, f"parted-{batch_rows}")
    assert len(stored) == 1, "one validation per suite and run in the store (Data Docs), not one per partition"
    meta = stored[0]["meta"]["pintel_partitions"]
    assert meta["partitions"] == -(-ROWS // batch_rows)
    assert [p["hash_key"] for p in meta["passes"]] == [["id"], ["a", "b"]]
    assert len(stored[0]["results"]) == 10


def test_direct_scans_and_the_parquet_split_give_one_result(
    warehouse: Path, gx_root: Path, suite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same 10 partitions read by 10 filtered scans, then through the one-scan Parquet split.
    name = suite("events")
    monkeypatch.setattr(partitions, "DIRECT_SCAN_MAX_PARTITIONS", 10)
    scanned = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41)
    monkeypatch.setattr(partitions, "DIRECT_SCAN_MAX_PARTITIONS", 9)
    spilled = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41)
    assert scanned.status == spilled.status == "failed"
    assert _comparable(scanned) == _comparable(spilled)


def test_data_docs_render_the_merged_validation(warehouse: Path, gx_root: Path, suite: Any, tmp_path: Path) -> None:
    name = suite("events")
    run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41, run_id="docs")
    build_data_docs(tmp_path / "site", context_root=gx_root)
    pages = list((tmp_path / "site" / "validations" / name / "docs").rglob("*.html"))
    assert len(pages) == 1  # one page for the suite's run, not one per partition
    assert "id-dup2" in pages[0].read_text()  # the merged samples are what it shows


def test_mostly_is_judged_on_the_merged_totals(warehouse: Path, gx_root: Path, suite: Any) -> None:
    name = suite("events", mostly=0.999)
    whole = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=WHOLE)
    parted = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41)
    assert _comparable(parted) == _comparable(whole)
    compound = [f for f in parted.failures if f["expectation"] == "expect_compound_columns_to_be_unique"]
    assert compound and compound[0]["observed"]["unexpected_count"] == 2
    assert compound[0]["observed"]["unexpected_percent"] == pytest.approx(0.5)


def test_clean_table_passes_partitioned_as_whole(warehouse: Path, gx_root: Path, suite: Any) -> None:
    name = suite("clean", row_max=ROWS)
    whole = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=WHOLE)
    parted = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41)
    assert whole.status == parted.status == "passed"
    assert _comparable(parted) == _comparable(whole)


def test_empty_table(warehouse: Path, gx_root: Path, suite: Any) -> None:
    name = suite("empty")
    whole = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=WHOLE)
    tiny = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=1)
    assert _comparable(tiny) == _comparable(whole)
    assert tiny.status == "failed" and tiny.observed_row_count == 0
    assert [f["observed"]["observed_value"] for f in tiny.failures] == [0]  # only "at least one row" fails


def test_an_expectation_without_a_merge_rule_is_an_error_not_dropped(
    warehouse: Path, gx_root: Path, suite: Any
) -> None:
    name = suite("clean", expectations=lambda: [gx_expectations().ExpectColumnMeanToBeBetween(column="x", min_value=0)])
    assert run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=WHOLE).status == "passed"
    parted = run_suite(warehouse, name, context_root=gx_root, record=False, batch_rows=41)
    assert parted.status == "error" and not parted.success
    assert "expect_column_mean_to_be_between" in parted.failures[0]["observed"]["exception"]


def test_the_fct_events_gate_partitioned_equals_whole(warehouse: Path, gx_root: Path) -> None:
    whole = run_suite(warehouse, "fct_events", context_root=gx_root, record=False, batch_rows=WHOLE)
    parted = run_suite(warehouse, "fct_events", context_root=gx_root, record=False, batch_rows=70)
    assert _comparable(parted) == _comparable(whole)
    failed = {(f["expectation"], f["column"]): f["observed"] for f in whole.failures}
    assert failed[("expect_column_values_to_be_unique", "message_id")]["unexpected_count"] == 3
    assert failed[("expect_compound_columns_to_be_unique", "user_id,event_name,event_at")]["unexpected_count"] == 16
    assert failed[("expect_column_values_to_be_in_set", "event_name")]["unexpected_count"] == 1
    assert ("expect_column_values_to_be_of_type", "arrival_lag_seconds") not in failed  # dtypes survive the split
    assert parted.observed_row_count == 308 and parted.blocking


@pytest.mark.parametrize("k", [1, 2, 3, 7, 16, 64, 401])
def test_rows_sharing_a_key_always_share_a_partition(warehouse: Path, tmp_path: Path, k: int) -> None:
    sql = "select id, a, b from t.events"
    con = duckdb.connect(str(warehouse), read_only=True)
    types = {"id": "VARCHAR", "a": "BIGINT", "b": "BIGINT"}
    seen: dict[tuple[Any, ...], set[int]] = {}
    rows = 0
    for key in (("id",), ("a", "b")):
        folder = tmp_path / "_".join(key)
        con.execute(partitions.split_sql(sql, ["id", "a", "b"], key, k, folder))
        for p in range(k):
            part = con.execute(partitions.read_sql(sql, types, folder, p)).fetchall()
            scanned = con.execute(partitions.scan_sql(sql, ["id", "a", "b"], key, k, p)).fetchall()
            assert sorted(scanned) == sorted(part)  # a filtered scan reads the rows the split wrote there
            rows += len(part)
            for row in part:
                value = (row[0],) if key == ("id",) else (row[1], row[2])
                seen.setdefault((key, *value), set()).add(p)
    con.close()
    assert rows == 2 * ROWS  # each pass reads every row exactly once (k = 401: some partitions are empty)
    assert all(len(found) == 1 for found in seen.values())
    assert seen[(("id",), "id-dup2")] and seen[(("a", "b"), 0, 0)]


def test_every_suite_on_a_growing_table_can_be_partitioned() -> None:
    big = [spec for spec in SUITES.values() if spec.sql is not None]
    assert {spec.name for spec in big} >= {"raw_events", "staging_tracks", "fct_events"}
    for spec in big:
        configs = [e.configuration for e in spec.expectations()]
        columns = sorted({c for config in configs for c in partitions._columns(config)} | set(spec.index_columns))
        passes = partitions.plan(configs, spec.index_columns, columns)
        covered = sorted(p for step in passes for p in step.positions)
        assert covered == list(range(len(configs))), f"{spec.name}: every expectation in exactly one pass"
    fct = partitions.plan(
        [e.configuration for e in SUITES["fct_events"].expectations()], ("message_id",), ["message_id"]
    )
    assert [p.key for p in fct] == [("message_id",), ("user_id", "event_name", "event_at")]


def test_the_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pintel.settings import DQ_BATCH_ROWS, Settings

    monkeypatch.delenv("PINTEL_DQ_BATCH_ROWS", raising=False)
    assert Settings.from_env().dq_batch_rows == DQ_BATCH_ROWS
    monkeypatch.setenv("PINTEL_DQ_BATCH_ROWS", "250_000")
    assert Settings.from_env().dq_batch_rows == 250_000
    monkeypatch.setenv("PINTEL_DQ_BATCH_ROWS", "0")
    with pytest.raises(ValueError, match="PINTEL_DQ_BATCH_ROWS"):
        Settings.from_env()
