"""``main_dq``: the whole data-quality gate in one call, for ``pintel dq`` and CI."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pintel.quality.docs import build_data_docs, summary_text
from pintel.quality.html_report import write_dq_report
from pintel.quality.runner import run_all


def main_dq(
    warehouse: str | Path,
    reports_dir: str | Path = "reports",
    *,
    context_root: str | Path | None = None,
    names: list[str] | None = None,
    record: bool = True,
    dbt_vars: Mapping[str, Any] | None = None,
) -> int:
    """Run every suite, record the results, build Data Docs, print the summary; return the exit code.

    Exit code 1 means at least one *critical* suite failed (or could not run) — the signal CI and Dagster use
    to stop downstream decisions and actions. Non-critical failures are printed and rendered but return 0.
    Writes ``<reports_dir>/data_docs/index.html``, ``<reports_dir>/data_quality.json`` (the results as JSON,
    for CI artefacts) and ``<reports_dir>/data_quality.html`` (the same verdicts in one self-contained page).
    A Data Docs failure is reported but does not mask the validation verdict. ``dbt_vars``: the ``--vars`` the
    warehouse was built with (see :func:`pintel.quality.run_suite`).
    """
    results = run_all(warehouse, names, context_root=context_root, record=record, dbt_vars=dbt_vars)
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "data_quality.json").write_text(json.dumps([r.to_metadata() for r in results], indent=2))
    print(summary_text(results))
    print(f"data quality report (self-contained, offline): {write_dq_report(results, reports)}")
    try:
        index = build_data_docs(reports / "data_docs", context_root=context_root)
        print(f"data docs: {index}")
    except Exception as error:  # the gate's verdict must not depend on HTML rendering
        print(f"data docs not built: {type(error).__name__}: {error}", file=sys.stderr)
    return 1 if any(r.blocking for r in results) else 0
