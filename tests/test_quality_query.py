"""The suites' loader query fetches DuckDB results chunk by chunk: the frame must equal ``.df()``'s exactly."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pintel.quality.spec import FETCH_VECTORS_PER_CHUNK, query

ROWS_PER_CHUNK = FETCH_VECTORS_PER_CHUNK * 2048


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        f"""
        create table t as
        select
            i,
            'm-' || i as message_id,
            case when i % 7 = 0 then null else i end as maybe_int,
            timestamp '2026-01-01' + to_seconds(i) as at,
            date '2026-01-01' + (i % 30)::int as day,
            i % 2 = 0 as even
        from range({2 * ROWS_PER_CHUNK + 17}) as r(i)
        """
    )
    return con


@pytest.mark.parametrize(
    "where",
    ["false", "i < 5", f"i < {ROWS_PER_CHUNK}", "true"],
    ids=["empty", "few", "one-chunk", "three-chunks"],
)
def test_query_equals_df(con: duckdb.DuckDBPyConnection, where: str) -> None:
    sql = f"select * from t where {where} order by i"
    frame = query(con, sql)
    pd.testing.assert_frame_equal(frame, con.execute(sql).df())
    assert list(frame.index) == list(range(len(frame)))
