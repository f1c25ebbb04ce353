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


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """One loader query on the suite's read-only connection, as a frame, fetched chunk by chunk.

    ``.df()`` materialises DuckDB's whole result and then builds the frame beside it, so the peak is about twice
    the frame: 4.98 GiB for the ``fct_events`` suite at 10M events, over the 4 GiB a stage may use. Chunks
    are converted by the same DuckDB code (identical dtypes) from a streamed result, so DuckDB never holds the
    whole result: measured on 1M events, the fetch adds 0.26 GiB instead of 0.45 (the chunks are joined by one
    ``concat``, cheap for the Arrow-backed strings). The frame itself still grows with the table (GX validates
    whole batches, or partitions of them: :func:`query_at_most`).
    """
    frame = query_at_most(con, sql, None)
    assert frame is not None  # no bound, so never abandoned
    return frame


def query_at_most(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None) -> pd.DataFrame | None:
    """:func:`query`, abandoned (None) as soon as the result has more than ``max_rows`` rows: the caller then
    validates it in partitions, having held at most ``max_rows`` plus one chunk (None = no bound)."""
    result = con.execute(sql)
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
