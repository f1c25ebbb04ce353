"""What a data-quality suite is: :class:`SuiteSpec` and the shapes of its loader and parameter functions.

Kept apart from the registry (:mod:`.suites`) so the runner and the registry can both depend on it without
depending on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

Vars = Mapping[str, Any]
"""The dbt project's vars as the build saw them (declared values with the run's ``--vars``)."""
Loader = Callable[[duckdb.DuckDBPyConnection, Vars], pd.DataFrame]
"""(read-only connection, the dbt project's vars as the build saw them) -> the frame to validate."""
ParameterSource = Callable[[duckdb.DuckDBPyConnection, Vars], dict[str, Any]]
"""(read-only connection, the dbt project's vars) -> values for the suite's ``$PARAMETER`` references."""
ExpectationFactory = Callable[[], "list[Expectation]"]
SourceSql = Callable[[Vars], str]
"""(the dbt project's vars) -> the loader's one SELECT, so the runner can count it and read it in partitions."""

# DuckDB VARCHAR arrives as pandas 3's "str" dtype ("object" under pandas 2). Not a type list: GX's
# expect_column_values_to_be_in_type_list compares against StringDtype(na_value=NA) and rejects pandas 3 "str".
STRING_TYPE = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"


# Rows are fetched in chunks of this many DuckDB vectors (2 048 rows each): ~200k rows per chunk.
FETCH_VECTORS_PER_CHUNK = 100
FETCH_ROWS_PER_BATCH = FETCH_VECTORS_PER_CHUNK * 2048
# Result types whose columns :func:`query_at_most` may take through Arrow: strings become pandas' Arrow-backed
# "str" columns directly, and every other column here is converted by DuckDB's own code from the Arrow batch
# (the same logical type, so the same dtype). Any other type in a result (UUID, DECIMAL, lists, ...) keeps the
# plain ``fetch_df_chunk`` path: its Arrow round trip is not proven to give the same frame.
ARROW_STRING_TYPES = frozenset({"VARCHAR"})
ARROW_SAFE_TYPES = ARROW_STRING_TYPES | frozenset(
    {
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "DATE",
        "TIMESTAMP",
    }
)


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """One loader query on the suite's read-only connection, as a frame, fetched batch by batch.

    ``.df()`` materialises DuckDB's whole result and then builds the frame beside it, so the peak is about twice
    the frame: 4.98 GiB for the ``fct_events`` suite at 10M events, over the 4 GiB a stage may use. Batches are
    streamed, so DuckDB never holds the whole result (measured on 1M events, the fetch adds 0.26 GiB instead of
    0.45). The frame equals ``.df()``'s, dtypes included (tests/test_quality_query.py). The frame itself still
    grows with the table (GX validates whole batches, or partitions of them: :func:`query_at_most`).
    """
    frame = query_at_most(con, sql, None)
    assert frame is not None  # no bound, so never abandoned
    return frame


def query_at_most(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> pd.DataFrame | None:
    """:func:`query`, abandoned (None) as soon as the result has more than ``max_rows`` rows: the caller then
    validates it in partitions, having held at most ``max_rows`` plus one batch (None = no bound).

    Strings go through Arrow: DuckDB's pandas conversion builds one Python ``str`` per value, which pandas then
    converts back into an Arrow string array (pandas 3's "str" dtype); Arrow hands that array over as it is.
    Measured on a 1.67M-row partition of ``fct_events`` (3 string and 6 timestamp / integer columns): 0.51 CPU s
    against 1.54. Results with a type outside :data:`ARROW_SAFE_TYPES` take DuckDB's pandas path, chunk by chunk.
    """
    result = con.execute(sql)
    columns = [(name, str(kind)) for name, kind, *_ in result.description or []]
    names = [name for name, _ in columns]
    if len(set(names)) < len(names) or any(kind not in ARROW_SAFE_TYPES for _, kind in columns):
        return _chunked(result, max_rows)
    reader = result.to_arrow_reader(FETCH_ROWS_PER_BATCH)
    batches, rows = [], 0
    for batch in reader:
        if max_rows is not None and rows + batch.num_rows > max_rows:
            return None
        batches.append(batch)
        rows += batch.num_rows
    table = pa.Table.from_batches(batches, schema=reader.schema)
    del batches
    # A string column with no value at all is what DuckDB makes an object column of None (pandas infers "str"
    # only from a string); that one, and every non-string column, DuckDB converts from the Arrow table exactly
    # as it would have from its own result.
    direct = {name for name, kind in columns if kind in ARROW_STRING_TYPES and table.column(name).null_count < rows}
    others = [name for name in names if name not in direct]
    converted = con.from_arrow(table.select(others)).df() if others else pd.DataFrame(index=pd.RangeIndex(rows))
    parts = {name: table.column(name).to_pandas() if name in direct else converted[name] for name in names}
    return pd.DataFrame(parts, columns=names, copy=False)


def _chunked(result: duckdb.DuckDBPyConnection, max_rows: int | None) -> pd.DataFrame | None:
    chunks = [result.fetch_df_chunk(FETCH_VECTORS_PER_CHUNK)]  # the first, even empty, carries the dtypes
    rows = len(chunks[0])
    while len(chunks[-1]):
        if max_rows is not None and rows > max_rows:
            return None
        chunks.append(result.fetch_df_chunk(FETCH_VECTORS_PER_CHUNK))
        rows += len(chunks[-1])
    chunks = [chunk for chunk in chunks if len(chunk)] or chunks[:1]
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def gx_expectations() -> Any:
    """``great_expectations.expectations``, imported only when expectations are built: GX takes ~5 s to
    import, which the Dagster code location must not pay on every load."""
    import great_expectations.expectations as gxe

    return gxe


@dataclass(frozen=True)
class SuiteSpec:
    """One suite: the table it guards, whether it blocks, how to load its frame and what to expect of it.

    ``load`` receives a read-only connection and the dbt project's vars (with the build's ``--vars``) and
    returns the frame to validate; thresholds the SQL applies come from those vars, never from constants.
    ``parameters`` (optional) receives the same and returns values for the ``$PARAMETER`` references in the
    expectations. ``index_columns`` name the columns GX reports for each offending row, so a failure says
    *which* rows. ``sql`` (optional) is the loader's SELECT itself, for suites on tables that grow with the
    event log: the runner then validates a result of more rows than ``PINTEL_DQ_BATCH_ROWS`` in hash partitions
    (:mod:`.partitions`), and ``load`` must be ``query`` of that SELECT. ``requires`` lists the tables the
    loader reads; when one is missing the suite errors, unless it is ``optional`` (a table that legitimately does
    not exist yet), in which case it is skipped.
    """

    name: str
    asset: str
    critical: bool
    description: str
    load: Loader
    expectations: ExpectationFactory
    parameters: ParameterSource | None = None
    sql: SourceSql | None = None
    index_columns: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    optional: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """GX failure severity for this suite's expectations: critical suites block, the rest warn."""
        return "critical" if self.critical else "warning"
