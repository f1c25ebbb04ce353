"""Human-facing output: GX Data Docs (HTML) and a one-screen text summary for CI logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pintel.quality import runner
from pintel.quality.results import SuiteResult
from pintel.quality.runner import DATA_DOCS_SITE, VALIDATION_RESULTS_LIMIT

SUMMARY_ROWS_PER_FAILURE = 3


def build_data_docs(
    site_dir: str | Path = "reports/data_docs",
    *,
    context_root: str | Path | None = None,
    validation_results_limit: int = VALIDATION_RESULTS_LIMIT,
) -> Path:
    """Render GX Data Docs from the stored suites and validation results into ``site_dir``; return index.html.

    ``site_dir`` is resolved against the working directory, like ``PINTEL_REPORTS``. The site location is
    swapped in memory only for this build and restored afterwards, so building docs somewhere else (CI
    artefacts, a test's tmp dir) never rewrites the committed ``great_expectations.yml``. Only the newest
    ``validation_results_limit`` results are rendered, which keeps builds fast as history accumulates.
    """
    site = Path(site_dir).resolve()
    site.mkdir(parents=True, exist_ok=True)
    root = runner.context_root(context_root)
    with runner._file_lock(root):
        context = runner._open_context(root)
        original = context.variables.data_docs_sites
        context.variables.data_docs_sites = {
            DATA_DOCS_SITE: runner._site_config(str(site) + "/", validation_results_limit)
        }
        try:
            context.build_data_docs(site_names=[DATA_DOCS_SITE])
        finally:
            context.variables.data_docs_sites = original
    index = site / "index.html"
    if not index.exists():
        raise FileNotFoundError(f"GX did not write {index}")
    return index


def _row_text(row: Any) -> str:
    if isinstance(row, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in row.items()) + "}"
    return json.dumps(row, default=str)


def _failure_text(failure: dict[str, Any]) -> str:
    observed = failure.get("observed", {})
    where = f" on {failure['column']}" if failure.get("column") else ""
    parts = [f"{failure['expectation']}{where}"]
    if "exception" in observed:
        parts.append(f"error: {observed['exception']}")
    if observed.get("unexpected_count") is not None:
        parts.append(f"{observed['unexpected_count']} unexpected")
    if "observed_value" in observed:
        parts.append(f"observed {json.dumps(observed['observed_value'], default=str)[:120]}")
    rows = observed.get("unexpected_rows") or observed.get("partial_unexpected_list") or []
    if rows:
        shown = "; ".join(_row_text(r) for r in rows[:SUMMARY_ROWS_PER_FAILURE])
        more = f" (+{len(rows) - SUMMARY_ROWS_PER_FAILURE} more)" if len(rows) > SUMMARY_ROWS_PER_FAILURE else ""
        parts.append(f"e.g. {shown}{more}")
    return " - ".join(parts)


def summary_text(results: Sequence[SuiteResult]) -> str:
    """A one-screen, plain-ASCII summary for CI logs: a table of suites, then each failure named with examples."""
    if not results:
        return "data quality: no suites run"
    blocking = [r for r in results if r.blocking]
    failed = [r for r in results if r.status in ("failed", "error")]
    verdict = "BLOCKED" if blocking else ("WARN" if failed else "OK")
    header = (
        f"data quality {verdict}: {len(results)} suites, {len(failed)} failed "
        f"({len(blocking)} critical), run {results[0].run_id}"
    )
    lines = [
        header,
        f"  {'suite':<20} {'asset':<30} {'crit':<4} {'status':<7} {'eval':>4} {'fail':>4} {'rows':>10} {'secs':>6}",
    ]
    for r in results:
        rows = "-" if r.observed_row_count is None else f"{r.observed_row_count:,}"
        lines.append(
            f"  {r.suite:<20} {r.asset:<30} {'yes' if r.critical else 'no':<4} {r.status.upper():<7} "
            f"{r.evaluated:>4} {r.failed:>4} {rows:>10} {r.run_time:>6.1f}"
        )
    for r in results:
        if r.status == "skipped":
            lines.append(f"  - {r.suite}: skipped ({r.skip_reason})")
    for r in failed:
        label = "CRITICAL" if r.critical else "warning"
        for failure in r.failures:
            lines.append(f"  x [{label}] {r.suite}: {_failure_text(failure)}")
    return "\n".join(lines)
