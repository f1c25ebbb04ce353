"""Data quality for the warehouse: Great Expectations suites, a runner API, history and Data Docs.

Typical use::

    from pintel.quality import run_all, summary_text
    results = run_all("data/pintel.duckdb")
    print(summary_text(results))

Great Expectations itself is imported lazily (it takes seconds), so importing this package is cheap enough
for Dagster code locations and the CLI.
"""

from pintel.quality.docs import build_data_docs, summary_text
from pintel.quality.dq import main_dq
from pintel.quality.history import HISTORY_TABLE, record_results
from pintel.quality.results import SuiteResult
from pintel.quality.runner import get_context, run_all, run_suite, sync_suites
from pintel.quality.spec import SuiteSpec
from pintel.quality.suites import CRITICAL_SUITES, SUITES

__all__ = [
    "CRITICAL_SUITES",
    "HISTORY_TABLE",
    "SUITES",
    "SuiteResult",
    "SuiteSpec",
    "build_data_docs",
    "get_context",
    "main_dq",
    "record_results",
    "run_all",
    "run_suite",
    "summary_text",
    "sync_suites",
]
