"""Run the suites against a warehouse and return structured, JSON-friendly results.

This is the API the Dagster ``@asset_check``s and ``pintel dq`` call: ``run_suite`` / ``run_all`` return
:class:`SuiteResult` objects that say which expectation failed and on which rows, with no Dagster (or GX)
types leaking out.

Design points, each learned the hard way:

* **Read-only, short-lived connections.** DuckDB admits one writing process, and even a read-only open blocks
  a writer in another process. Each suite opens the file read-only, loads its frame and parameters, and closes
  it *before* GX starts computing; the only read-write open is the history insert (:mod:`.history`).
* **One file context, touched as little as possible.** Dagster runs checks in parallel processes that share
  ``expectations/gx``. The context is created and suites are (re)written under an exclusive file lock, and
  only when something changed, so concurrent runs neither corrupt ``great_expectations.yml`` nor churn the
  committed JSON. GX validation results go to the context's ``uncommitted/validations`` store (one file per
  run and suite, so parallel writers do not collide) from which Data Docs are built.
* **GX is imported lazily**: it costs ~5 s, and Dagster imports this module on every code-location load.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pintel.dbt_project import project_vars
from pintel.quality.history import open_warehouse, record_results, table_exists
from pintel.quality.partitions import validate_partitioned
from pintel.quality.results import SuiteResult, failures_of, jsonable
from pintel.quality.spec import SuiteSpec, query
from pintel.quality.suites import SUITES
from pintel.quality.workers import in_processes, worker_count
from pintel.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuite, ValidationDefinition
    from great_expectations.data_context import FileDataContext

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_ROOT = REPO_ROOT / "expectations"
DEFAULT_SITE_DIR = REPO_ROOT / "reports" / "data_docs"
DATASOURCE_NAME = "pintel_warehouse"
BATCH_DEFINITION_NAME = "whole_frame"
DATA_DOCS_SITE = "pintel_site"
# How many offending values / rows a failure carries: enough to debug, small enough for Dagster metadata.
PARTIAL_UNEXPECTED_COUNT = 10
VALIDATION_RESULTS_LIMIT = 200


# --- the GX context ----------------------------------------------------------------------------------------


def context_root(root: str | Path | None = None) -> Path:
    """The GX project root: an explicit path, else :attr:`Settings.expectations` (``$PINTEL_EXPECTATIONS_DIR``)."""
    return Path(root or Settings.from_env().expectations).resolve()


@contextlib.contextmanager
def _file_lock(root: Path) -> Iterator[None]:
    """Exclusive advisory lock on the context, so parallel Dagster steps do not interleave config writes."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".pintel-gx.lock").open("a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process lock, single-process use only
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _default_site_config(root: Path) -> dict[str, Any]:
    # The committed config points Data Docs at the repo's gitignored reports/ (relative to expectations/gx, so
    # it holds on any checkout); other roots (tests) keep docs inside their own uncommitted folder.
    gx_dir = root / "gx"
    if root == DEFAULT_CONTEXT_ROOT.resolve():
        base = os.path.relpath(DEFAULT_SITE_DIR, gx_dir) + "/"
    else:
        base = "uncommitted/data_docs/"
    return _site_config(base)


def _site_config(base_directory: str, limit: int = VALIDATION_RESULTS_LIMIT) -> dict[str, Any]:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": base_directory},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "validation_results_limit": limit},
    }


def _open_context(path: Path) -> FileDataContext:
    """Load (or scaffold) the file context from disk; the caller holds the context lock.

    Always a fresh load, never a per-process cache: GX saves its *whole in-memory* config whenever an asset
    is added, so a context loaded before another process added its asset would silently drop that asset from
    ``great_expectations.yml`` (seen with ten parallel checks). Loading costs ~50 ms.
    """
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import set_context
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(path))
    # Configure once: replace GX's default local_site by ours, turn progress bars off. An existing pintel_site
    # is left alone (it may have been edited on purpose), so opening a context never rewrites committed YAML.
    sites = context.variables.data_docs_sites or {}
    progress = context.variables.progress_bars  # a plain dict once read back from the yml
    bars_on = progress is None or bool(dict(progress).get("globally", True))
    if DATA_DOCS_SITE not in sites or bars_on:
        if DATA_DOCS_SITE not in sites:
            context.variables.data_docs_sites = {DATA_DOCS_SITE: _default_site_config(path)}
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    set_context(context)  # GX resolves some objects through its "current project"; make it this one
    return context


def get_context(root: str | Path | None = None) -> FileDataContext:
    """The GX file data context at ``root``, created and configured on first use.

    Configuration (the Data Docs site, progress bars off) is saved only when it differs from what is on disk,
    so repeated calls never rewrite committed files.
    """
    path = context_root(root)
    with _file_lock(path):
        return _open_context(path)


def _build_suite(spec: SuiteSpec) -> ExpectationSuite:
    import great_expectations as gx

    expectations = spec.expectations()
    for expectation in expectations:
        expectation.severity = spec.severity  # type: ignore[assignment]  # GX coerces str -> FailureSeverity
    return gx.ExpectationSuite(
        name=spec.name,
        expectations=expectations,
        meta={
            "pintel": {
                "asset": spec.asset,
                "critical": spec.critical,
                "description": spec.description,
                "optional": spec.optional,
            }
        },
    )


def _expectation_fingerprint(expectation: Any) -> str:
    """An expectation's content without its GX-assigned id, for comparing a fresh build with the stored one."""
    content = expectation.dict(exclude={"rendered_content", "id"})
    for attr in ("notes", "meta"):  # GX treats empty and missing as equal; so do we
        content[attr] = content.get(attr) or None
    return json.dumps(jsonable(content), sort_keys=True)


def _suite_unchanged(existing: ExpectationSuite, wanted: ExpectationSuite) -> bool:
    def content(suite: ExpectationSuite) -> tuple[Any, ...]:
        meta = {k: v for k, v in suite.meta.items() if k != "great_expectations_version"}
        return jsonable(meta), sorted(_expectation_fingerprint(e) for e in suite.expectations)

    return content(existing) == content(wanted)


def _ensure_validation_definition(root: Path, spec: SuiteSpec) -> ValidationDefinition:
    """Make sure the suite, its dataframe asset and its validation definition exist and are current.

    Holds the context lock, loads the context fresh from disk, and writes only what is missing or changed.
    """
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    wanted = _build_suite(spec)
    with _file_lock(root):
        context = _open_context(root)
        try:
            datasource = context.data_sources.get(DATASOURCE_NAME)
        except KeyError:
            datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
        try:
            asset = datasource.get_asset(spec.name)
        except LookupError:
            asset = datasource.add_dataframe_asset(spec.name)
        try:
            batch_definition = asset.get_batch_definition(BATCH_DEFINITION_NAME)
        except KeyError:
            batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)

        try:
            suite = context.suites.get(spec.name)
            if not _suite_unchanged(suite, wanted):
                suite = context.suites.add_or_update(wanted)
        except DataContextError:
            suite = context.suites.add(wanted)

        try:
            definition = context.validation_definitions.get(spec.name)
            if definition.suite.id != suite.id or definition.batch_definition.id != batch_definition.id:
                raise DataContextError("stale validation definition")
        except DataContextError:
            definition = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
            )
    return definition


def sync_suites(root: str | Path | None = None, names: Sequence[str] | None = None) -> Path:
    """Write (or refresh) every suite and validation definition into the GX file context; return its gx dir.

    Running it after editing ``suites.py`` updates the reviewable JSON under ``expectations/gx``; unchanged
    suites are not rewritten, so the diff shows exactly the rules that changed.
    """
    path = context_root(root)
    for name in names or SUITES:
        _ensure_validation_definition(path, SUITES[name])
    return path / "gx"


# --- running -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def without_batch_fingerprint() -> Iterator[None]:
    """GX's pandas engine without its batch fingerprint: an MD5 over ``hash_pandas_object`` of every frame
    under 1 GB, half of GX's time on an event-sized frame (0.70 of 1.38 CPU s for ``fct_events`` at 1M rows).

    The fingerprint is only a batch marker in the stored validation meta (``pandas_data_fingerprint``); no
    expectation reads it, and GX itself leaves it out of every frame over its ``HASH_THRESHOLD``. A partitioned
    run's merged result would carry just the last partition's anyway. So verdicts, counts and samples are
    unchanged; the marker is absent, as for any large frame."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0  # read at each batch load: "memory_usage() < HASH_THRESHOLD" is then never true
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = threshold


@contextlib.contextmanager
def _read_only(warehouse_path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_warehouse(warehouse_path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def _result_format(spec: SuiteSpec) -> dict[str, Any]:
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
        "return_unexpected_index_query": False,
    }
    if spec.index_columns:
        result_format["unexpected_index_column_names"] = list(spec.index_columns)
    return result_format


def _validate(
    spec: SuiteSpec,
    warehouse_path: str | Path,
    root: str | Path | None,
    run_id: str,
    validated_at: datetime,
    thresholds: Mapping[str, Any],
    batch_rows: int,
) -> SuiteResult:
    import great_expectations  # noqa: F401  # the ~5 s first import is not this suite's run time

    started = time.perf_counter()

    def result(status: str, **fields: Any) -> SuiteResult:
        return _suite_result(spec, run_id, validated_at, status, time.perf_counter() - started, **fields)

    try:
        with _read_only(warehouse_path) as con:
            missing = [table for table in spec.requires if not table_exists(con, table)]
            if missing and spec.optional:
                return result("skipped", skip_reason=f"table not present yet: {', '.join(missing)}")
            if missing:
                raise LookupError(f"required table missing: {', '.join(missing)}")
            parameters = spec.parameters(con, thresholds) if spec.parameters else {}
            sql = spec.sql(thresholds) if spec.sql else None
            # A suite that declares its SELECT is read whole only while it fits one batch (else partitions).
            # Counted first (a projection of a table: metadata), so a partitioned suite reads no batch in vain.
            frame: pd.DataFrame | None
            if sql is None:
                frame = spec.load(con, thresholds)
                rows = len(frame)
            else:
                rows = _count(con, sql)
                frame = query(con, sql) if rows <= batch_rows else None
        # The connection is closed here: GX can take seconds on millions of rows and must not hold the file.
        from great_expectations.core.run_identifier import RunIdentifier

        definition = _ensure_validation_definition(context_root(root), spec)
        gx_run_id = RunIdentifier(run_name=run_id, run_time=validated_at)
        with without_batch_fingerprint():
            if frame is not None:
                validation = definition.run(
                    batch_parameters={"dataframe": frame},
                    expectation_parameters=parameters or None,
                    result_format=_result_format(spec),
                    run_id=gx_run_id,
                )
            else:
                assert sql is not None
                validation = validate_partitioned(
                    definition,
                    lambda: _read_only(warehouse_path),
                    sql,
                    rows=rows,
                    batch_rows=batch_rows,
                    index_columns=spec.index_columns,
                    parameters=parameters or None,
                    result_format=_result_format(spec),
                    run_id=gx_run_id,
                    spill_folder=Settings.from_env().duckdb.temp_directory or Path(warehouse_path).resolve().parent,
                )
    except Exception as error:
        log.exception("data-quality suite %s could not run", spec.name)
        return result("error", failed=1, failures=[_suite_error(spec, error, traceback.format_exc(limit=3))])
    statistics = validation.statistics
    failures = failures_of(validation, PARTIAL_UNEXPECTED_COUNT)
    return result(
        "passed" if validation.success else "failed",
        success=bool(validation.success),
        evaluated=int(statistics.get("evaluated_expectations", 0)),
        failed=int(statistics.get("unsuccessful_expectations", 0)),
        failures=failures,
        observed_row_count=rows,
        parameters=jsonable(
            {k: (v if not isinstance(v, list) or len(v) <= 50 else f"{len(v)} values") for k, v in parameters.items()}
        ),
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str | None) -> int:
    row = con.execute(f"select count(*) from ({sql}) as suite_rows").fetchone()
    return int(row[0]) if row else 0


def _suite_result(
    spec: SuiteSpec, run_id: str, validated_at: datetime, status: str, run_time: float, **fields: Any
) -> SuiteResult:
    """A suite's result with ``status``: nothing evaluated or failed unless ``fields`` say otherwise."""
    base: dict[str, Any] = {
        "suite": spec.name,
        "asset": spec.asset,
        "critical": spec.critical,
        "success": status in ("passed", "skipped"),
        "status": status,
        "evaluated": 0,
        "failed": 0,
        "failures": [],
        "observed_row_count": None,
        "validated_at": validated_at,
        "run_id": run_id,
        "description": spec.description,
    }
    base.update(fields)
    return SuiteResult(run_time=run_time, **base)


def _suite_error(spec: SuiteSpec, error: BaseException, trace: str | None = None) -> dict[str, Any]:
    """The failure entry of a suite that could not run: the exception, and where it was raised when known."""
    observed = {"exception": f"{type(error).__name__}: {error}"}
    if trace is not None:
        observed["traceback"] = trace
    return {"expectation": "suite_error", "column": None, "kwargs": {}, "severity": spec.severity, "observed": observed}


def _crashed(spec: SuiteSpec, run_id: str, validated_at: datetime, error: BaseException) -> SuiteResult:
    """The result of a suite whose worker process died (e.g. killed for memory): an error, never a pass."""
    return _suite_result(spec, run_id, validated_at, "error", 0.0, failed=1, failures=[_suite_error(spec, error)])


def new_run_id() -> str:
    """A sortable, unique id for one validation run (shared by every suite run together)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _thresholds(dbt_vars: Mapping[str, Any] | None) -> dict[str, Any]:
    """The dbt project's vars as the build that made the warehouse saw them: declared values, then ``dbt_vars``
    (a run's ``--vars``; by default :attr:`Settings.dbt_vars`, i.e. ``$PINTEL_DBT_VARS``, as ``pintel build``)."""
    return project_vars(Settings.from_env().dbt_vars if dbt_vars is None else dbt_vars)


def _batch_rows(batch_rows: int | None) -> int:
    if batch_rows is None:
        return Settings.from_env().dq_batch_rows
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
    return batch_rows


def run_suite(
    warehouse_path: str | Path,
    name: str,
    *,
    context_root: str | Path | None = None,
    record: bool = True,
    run_id: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    batch_rows: int | None = None,
) -> SuiteResult:
    """Validate one suite against the warehouse; optionally append the result to the history table.

    ``dbt_vars`` are the ``--vars`` the warehouse was built with: thresholds the SQL applies (e.g.
    ``future_tolerance_minutes``) are read from the dbt project with these overrides, so the gate judges the data
    by the rules that built it. ``batch_rows``: the most rows GX validates in one frame (default
    :attr:`Settings.dq_batch_rows`, ``$PINTEL_DQ_BATCH_ROWS``); a bigger suite runs in partitions
    (:mod:`pintel.quality.partitions`) with the same result. Raises KeyError for an unknown suite name (a
    programming error); everything that can go wrong with the data or the warehouse is reported in the result.
    """
    spec = SUITES[name]
    now = datetime.now(UTC)
    outcome = _validate(
        spec, warehouse_path, context_root, run_id or new_run_id(), now, _thresholds(dbt_vars), _batch_rows(batch_rows)
    )
    if record:
        record_results(warehouse_path, [outcome])
    return outcome


def run_all(
    warehouse_path: str | Path,
    names: Sequence[str] | None = None,
    *,
    context_root: str | Path | None = None,
    record: bool = True,
    run_id: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    batch_rows: int | None = None,
    workers: int | None = None,
) -> list[SuiteResult]:
    """Validate several suites (all by default) under one run id; return them in registry order, record them in
    one write.

    ``dbt_vars``, ``batch_rows``: as for :func:`run_suite`. ``workers``: how many suites run at once, each in its
    own process (default :data:`~pintel.quality.workers.DQ_WORKERS`, at most the usable cores; 1 = one after
    another in this process; see :mod:`.workers`).
    """
    selected = list(names) if names is not None else list(SUITES)
    unknown = [n for n in selected if n not in SUITES]
    if unknown:
        raise KeyError(f"unknown data-quality suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}")
    run = run_id or new_run_id()
    validated_at = datetime.now(UTC)
    thresholds = _thresholds(dbt_vars)
    bound = _batch_rows(batch_rows)
    specs = [SUITES[n] for n in selected]
    import great_expectations  # noqa: F401  # once, here: forked workers inherit it (~2 CPU s each otherwise)

    outcomes = in_processes(
        _validate,
        [(spec, warehouse_path, context_root, run, validated_at, thresholds, bound) for spec in specs],
        worker_count(workers, len(specs)),
        # The suites on event-sized tables (a SELECT that may be partitioned) first: the long ones side by side.
        first=[spec.sql is not None for spec in specs],
    )
    results = [
        outcome if isinstance(outcome, SuiteResult) else _crashed(spec, run, validated_at, outcome)
        for spec, outcome in zip(specs, outcomes, strict=True)
    ]
    if record:
        record_results(warehouse_path, results)
    return results
