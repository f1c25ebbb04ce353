"""The suites' loader query streams DuckDB results batch by batch: the frame must equal ``.df()``'s exactly."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pintel.quality.spec import ARROW_SAFE_TYPES, FETCH_ROWS_PER_BATCH, query, query_at_most

ROWS_PER_CHUNK = FETCH_ROWS_PER_BATCH


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # Every type the Arrow path takes, with and without NULLs, NULLs in some batches only, a string column that
    # is all NULL, and types that must keep DuckDB's own pandas path (DECIMAL, UUID, a list).
    con.execute(
        f"""
        create table t as
        select
            i,
            'm-' || i as message_id,
            case when i % 7 = 0 then null else 'v' || (i % 5) end as maybe_text,
            case when i >= {ROWS_PER_CHUNK} then null else 'early' end as text_nulls_late,
            null::varchar as no_text,
            case when i % 7 = 0 then null else i end as maybe_int,
            case when i < {ROWS_PER_CHUNK} then i::integer end as int_nulls_late,
            (i % 200)::utinyint as small,
            i * 0.5::double as half,
            case when i % 3 = 0 then null else i * 0.25::double end as maybe_double,
            timestamp '2026-01-01' + to_seconds(i) as at,
            case when i % 11 = 0 then null else timestamp '2026-01-01' + to_seconds(i) end as maybe_at,
            date '2026-01-01' + (i % 30)::int as day,
            case when i % 13 = 0 then null else date '2026-01-01' + (i % 30)::int end as maybe_day,
            i % 2 = 0 as even,
            case when i % 5 = 0 then null else i % 2 = 0 end as maybe_even
        from range({2 * ROWS_PER_CHUNK + 17}) as r(i)
        """
    )
    return con


@pytest.mark.parametrize(
    "where",
    ["false", "i < 5", f"i < {ROWS_PER_CHUNK}", "true"],
    ids=["empty", "few", "one-batch", "three-batches"],
)
def test_query_equals_df(con: duckdb.DuckDBPyConnection, where: str) -> None:
    sql = f"select * from t where {where} order by i"
    assert {str(kind) for _, kind, *_ in con.execute(sql).description} <= ARROW_SAFE_TYPES  # the Arrow path
    frame = query(con, sql)
    pd.testing.assert_frame_equal(frame, con.execute(sql).df())
    assert list(frame.index) == list(range(len(frame)))


def test_other_types_keep_duckdbs_own_conversion(con: duckdb.DuckDBPyConnection) -> None:
    sql = "select i, message_id, (i / 7)::decimal(10, 2) as amount, [i] as ids from t where i < 1000 order by i"
    pd.testing.assert_frame_equal(query(con, sql), con.execute(sql).df())


def test_query_at_most_gives_up_past_the_bound(con: duckdb.DuckDBPyConnection) -> None:
    sql = "select i, message_id from t order by i"
    rows = 2 * ROWS_PER_CHUNK + 17
    assert query_at_most(con, sql, rows - 1) is None
    pd.testing.assert_frame_equal(query_at_most(con, sql, rows), con.execute(sql).df())
