"""Validating a suite whose frame is bigger than one GX batch: hash partitions, merged into one result.

GX validates a pandas frame, and a frame grows with the event log: ~0.35 GiB of process memory per million rows of
``fct_events`` (the frame, GX's whole-frame hash for the batch fingerprint, ``dropna`` copies), ~14 GiB at 40M
events. A suite that declares its SELECT (:attr:`SuiteSpec.sql`) and returns more than ``batch_rows`` rows is read
and validated instead in ``k = ceil(rows / batch_rows)`` partitions (rows whose DuckDB ``hash(key) % k`` is ``i``),
one at a time (the read-only connection is closed while GX computes, as for a whole frame; each partition is a
filtered scan of the SELECT, or, past :data:`DIRECT_SCAN_MAX_PARTITIONS`, one scan per pass writes them all to a
temporary Parquet folder they are read back from). Then every expectation's
per-partition results are merged and **GX itself judges the merged metrics**: the expectation's own ``_validate``
gets the summed ``table.row_count``, unexpected, null and filtered counts and the first
``partial_unexpected_count`` samples, so verdicts, ``mostly``, percentages and the vacuous-truth rule are GX's,
computed on the totals, never per partition.

Which expectations merge how (anything else in a suite over the bound is an error naming it, never dropped):

* row-wise (:data:`ROW_WISE`: not null, in set, between, regex, column pair A > B, ...): counts sum, in any
  partitioning;
* uniqueness (:data:`KEYED`): every row sharing a key must meet its duplicates, so the partitioning hashes *that*
  key. Distinct keys in one suite (``fct_events``: ``message_id``; ``user_id, event_name, event_at``) get one pass
  each over the table; each pass validates only the expectations it can, the first pass also the row-wise and
  table-level ones;
* table-level row counts (:data:`SUMMED_TABLE`): the partition counts sum to the table's;
* properties of the frame's schema (:data:`SAME_IN_EVERY_PARTITION`: a column's dtype): every partition comes
  from the same SELECT, so they pass only if every partition passes.

Samples are the first ``partial_unexpected_count`` of the partitions in order: the same rows as a whole-table run
whenever there are at most that many, a different but equally real sample otherwise (a whole-table run's "first"
is DuckDB's scan order, itself not fixed).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import duckdb

from pintel.quality.spec import query

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuiteValidationResult, ValidationDefinition
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

KEYED: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "expect_column_values_to_be_unique": lambda kwargs: (kwargs["column"],),
    "expect_compound_columns_to_be_unique": lambda kwargs: tuple(kwargs["column_list"]),
}
"""Expectations that compare rows with each other, and the key whose equal values must share a partition."""
ROW_WISE = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_match_strftime_format",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
"""Map expectations judging each row alone: their counts sum over any partitioning."""
SUMMED_TABLE = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
"""Table-level expectations on the row count: the partitions' counts sum to the table's."""
SAME_IN_EVERY_PARTITION = frozenset({"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"})
"""Expectations on the frame's dtypes, which every partition of one SELECT shares."""


class UnpartitionableSuite(ValueError):
    """A suite over the batch bound holds an expectation whose result cannot be merged from partitions."""


@dataclass(frozen=True)
class Pass:
    """One read of the table in ``k`` partitions hashed on ``key``, validating the expectations at ``positions``
    (indexes into the suite) on frames of ``columns`` only."""

    key: tuple[str, ...]
    positions: tuple[int, ...]
    columns: tuple[str, ...]


def _columns(config: ExpectationConfiguration) -> list[str]:
    kwargs = config.kwargs
    named = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"), *(kwargs.get("column_list") or [])]
    return [c for c in named if c]


def plan(
    configs: Sequence[ExpectationConfiguration], index_columns: Sequence[str], all_columns: Sequence[str]
) -> list[Pass]:
    """The passes a partitioned run makes: one per distinct uniqueness key (in suite order), the row-wise and
    table-level expectations riding on the first. Raises :class:`UnpartitionableSuite` naming what cannot merge."""
    unmergeable = sorted({c.type for c in configs} - set(KEYED) - ROW_WISE - SUMMED_TABLE - SAME_IN_EVERY_PARTITION)
    if unmergeable:
        raise UnpartitionableSuite(
            f"cannot validate in partitions (no merge rule for {', '.join(unmergeable)}); raise "
            "PINTEL_DQ_BATCH_ROWS above the table's rows or add a rule in pintel.quality.partitions"
        )
    keys: dict[tuple[str, ...], list[int]] = {}
    for position, config in enumerate(configs):
        if config.type in KEYED:
            keys.setdefault(KEYED[config.type](config.kwargs), []).append(position)
    others = [p for p, c in enumerate(configs) if c.type not in KEYED]
    # Without a uniqueness key any partitioning serves; hashing every index column (else every column) spreads it.
    first_key = next(iter(keys), tuple(index_columns) or tuple(all_columns))
    keys.setdefault(first_key, [])
    passes = []
    for number, (key, positions) in enumerate(keys.items()):
        chosen = sorted([*positions, *others]) if number == 0 else positions
        needed = {*key, *index_columns, *(c for p in chosen for c in _columns(configs[p]))}
        passes.append(Pass(key, tuple(chosen), tuple(c for c in all_columns if c in needed)))
    return passes


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


PARTITION_COLUMN = "pintel_partition"


def split_sql(sql: str, columns: Sequence[str], key: Sequence[str], partitions: int, folder: Path) -> str:
    """One scan of the loader's SELECT writing its ``columns`` to Parquet under ``folder``, one Hive partition per
    ``hash(key) % partitions``.

    DuckDB's ``hash`` of equal values is equal (NULLs included), so every row sharing a key lands in one partition.
    One scan per pass, not one per partition: re-running the SELECT per partition would cost ``k`` table scans
    (measured at 1M rows, 0.5 s each against 0.07 s per partition read back), quadratic in the table's size."""
    select = ", ".join(_identifier(c) for c in columns)
    hashed = ", ".join(_identifier(c) for c in key)
    return (
        f"copy (select {select}, hash({hashed}) % {int(partitions)} as {PARTITION_COLUMN} from ({sql}) as suite_rows)"
        f" to {_literal(folder)} (format parquet, partition_by ({PARTITION_COLUMN}))"
    )


def read_sql(sql: str, columns: Mapping[str, str], folder: Path, partition: int) -> str:
    """Partition ``partition`` as :func:`split_sql` wrote it, each column cast back to its DuckDB type in the
    loader's SELECT (``columns``: name -> type), so the frame's dtypes are a whole-table read's whatever Parquet
    stores; a partition no row hashed to has no rows and the same columns."""
    part = folder / f"{PARTITION_COLUMN}={int(partition)}"
    if not part.exists():
        return f"select {', '.join(_identifier(c) for c in columns)} from ({sql}) as suite_rows where false"
    select = ", ".join(f"cast({_identifier(c)} as {kind}) as {_identifier(c)}" for c, kind in columns.items())
    return f"select {select} from read_parquet({_literal(part / '*.parquet')})"


DIRECT_SCAN_MAX_PARTITIONS = 8
"""Up to this many partitions a pass reads each one straight from the suite's SELECT (``k`` filtered scans);
beyond it, one scan writes them all to Parquet to be read back (:func:`split_sql`), whose cost does not grow
with ``k``. Measured on ``fct_events`` at 10M rows, 9 columns, k = 6: the split and read-back cost 10.8 CPU s
per pass, one filtered scan (its pandas conversion included) 1.3 CPU s; the Parquet round trip is so worth about
eight scans. 10M events (k = 6) scan directly; 40M (k = 21) spill."""


def scan_sql(sql: str, columns: Sequence[str], key: Sequence[str], partitions: int, partition: int) -> str:
    """Partition ``partition`` read straight from the loader's SELECT: its rows whose ``hash(key) % partitions``
    is ``partition``, the same rows :func:`split_sql` writes there, in the SELECT's own types and scan order."""
    select = ", ".join(_identifier(c) for c in columns)
    hashed = ", ".join(_identifier(c) for c in key)
    return f"select {select} from ({sql}) as suite_rows where hash({hashed}) % {int(partitions)} = {int(partition)}"


def _frames(
    open_read_only: Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]],
    sql: str,
    step: Pass,
    k: int,
    types: Mapping[str, str],
    spill_folder: Path,
) -> Iterator[pd.DataFrame]:
    """One pass's ``k`` partitions as frames, one at a time, each read on its own short read-only connection
    (closed while GX computes): directly while ``k`` <= :data:`DIRECT_SCAN_MAX_PARTITIONS`, else via Parquet."""
    if k <= DIRECT_SCAN_MAX_PARTITIONS:
        for partition in range(k):
            with open_read_only() as con:
                frame = query(con, scan_sql(sql, step.columns, step.key, k, partition))
            yield frame
            del frame  # before the next read: one partition in memory at a time
        return
    with tempfile.TemporaryDirectory(prefix="pintel-dq-", dir=spill_folder) as tmp:
        folder = Path(tmp) / "partitions"
        with open_read_only() as con:
            con.execute(split_sql(sql, step.columns, step.key, k, folder))
        for partition in range(k):
            with open_read_only() as con:
                frame = query(con, read_sql(sql, {c: types[c] for c in step.columns}, folder, partition))
            yield frame
            del frame


def _merged(
    results: list[ExpectationValidationResult], result_format: Mapping[str, Any]
) -> ExpectationValidationResult:
    """One expectation's partition results as one: summed metrics judged by the expectation's own GX rule."""
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    first = results[0]
    for result in results:  # a partition GX could not evaluate makes the whole expectation an error
        if (result.exception_info or {}).get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in (result.exception_info or {}).values()
        ):
            return result
    config = first.expectation_config
    if config.type in SAME_IN_EVERY_PARTITION:
        return next((r for r in results if not r.success), first)
    parts = [r.result or {} for r in results]
    limit = int(result_format.get("partial_unexpected_count", 20))
    if config.type in SUMMED_TABLE:
        metrics: dict[str, Any] = {"table.row_count": sum(int(p.get("observed_value") or 0) for p in parts)}
    else:
        expectation = config.to_domain_obj()
        metric = expectation.map_metric  # type: ignore[attr-defined]
        element = sum(int(p.get("element_count") or 0) for p in parts)
        missing = sum(int(p.get("missing_count") or 0) for p in parts)
        values = [v for p in parts for v in (p.get("partial_unexpected_list") or [])][:limit]
        indexes = [v for p in parts for v in (p.get("partial_unexpected_index_list") or [])][:limit]
        metrics = {
            "table.row_count": element,
            "column_values.nonnull.unexpected_count": missing,
            f"{metric}.unexpected_count": sum(int(p.get("unexpected_count") or 0) for p in parts),
            f"{metric}.filtered_row_count": element - missing,
            f"{metric}.unexpected_values": values,
            f"{metric}.unexpected_index_list": indexes
            if any("partial_unexpected_index_list" in p for p in parts)
            else None,
        }
    outcome = config.to_domain_obj()._validate(metrics, runtime_configuration={"result_format": dict(result_format)})
    return ExpectationValidationResult(
        success=bool(outcome["success"]),
        result=outcome.get("result", {}),
        expectation_config=config,
        meta=first.meta,
        exception_info=first.exception_info,
    )


def validate_partitioned(
    definition: ValidationDefinition,
    open_read_only: Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]],
    sql: str,
    *,
    rows: int,
    batch_rows: int,
    index_columns: Sequence[str],
    parameters: Mapping[str, Any] | None,
    result_format: Mapping[str, Any],
    run_id: RunIdentifier,
    spill_folder: Path,
) -> ExpectationSuiteValidationResult:
    """Validate ``definition``'s suite on ``sql`` (``rows`` rows) in partitions of ~``batch_rows``; store and return
    ONE merged suite result, as :meth:`ValidationDefinition.run` does for a whole frame (Data Docs show one run).

    Past :data:`DIRECT_SCAN_MAX_PARTITIONS`, each pass's partitions are written once to Parquet in a temporary
    folder under ``spill_folder`` (removed after the pass; about the size of those columns in the warehouse, ~31 MB
    per million ``fct_events`` rows); up to it, each partition is read by its own filtered scan (:func:`_frames`)."""
    from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.v1_validator import Validator
    from great_expectations.validator.validator import calc_validation_statistics

    configs = definition.suite.expectation_configurations
    with open_read_only() as con:
        types = dict(con.execute(f"select column_name, column_type from (describe {sql})").fetchall())
    all_columns = list(types)
    passes = plan(configs, index_columns, all_columns)
    k = max(1, math.ceil(rows / batch_rows))
    per_expectation: dict[int, list[ExpectationValidationResult]] = {p: [] for p in range(len(configs))}
    validator = last = None
    spill_folder.mkdir(parents=True, exist_ok=True)
    for step in passes:
        subset = SimpleNamespace(
            name=definition.suite.name, expectation_configurations=[configs[p] for p in step.positions]
        )
        for frame in _frames(open_read_only, sql, step, k, types, spill_folder):
            validator = Validator(
                batch_definition=definition.batch_definition,
                batch_parameters={"dataframe": frame},
                result_format=dict(result_format),
            )
            last = validator.validate_expectation_suite(subset, parameters)  # type: ignore[arg-type]
            for position, result in zip(step.positions, last.results, strict=True):
                per_expectation[position].append(result)
            del frame
    assert validator is not None and last is not None  # plan() always returns a pass, k >= 1
    merged = [_merged(per_expectation[p], result_format) for p in range(len(configs))]
    statistics = calc_validation_statistics(merged)
    validation = ExpectationSuiteValidationResult(
        results=merged,
        success=statistics.success,
        suite_name=definition.suite.name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta={
            **last.meta,
            "validation_id": definition.id,
            "checkpoint_id": None,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "batch_parameters": {"dataframe": DATAFRAME_REPLACEMENT_STR},
            "pintel_partitions": {
                "rows": rows,
                "partitions": k,
                "passes": [{"hash_key": list(p.key), "expectations": len(p.positions)} for p in passes],
            },
        },
        batch_id=last.batch_id,
    )
    suite_id, result_id = definition._get_expectation_suite_and_validation_result_ids(validator, run_id)
    definition._validation_results_store.store_validation_results(
        suite_validation_result=validation,
        suite_validation_result_identifier=result_id,
        expectation_suite_identifier=suite_id,
    )
    return validation
