"""A self-contained HTML data-quality report beside GX's Data Docs: one file, inline CSS, no external asset.

GX's Data Docs load their CSS and JavaScript from CDNs (and, with analytics on, stamp a tracking id into the logo
URL), so opened without internet -- a CI artefact, an air-gapped deployment -- they are an unstyled page with
empty tables. This page holds the same verdicts (suite, status, expectations evaluated and failed, the failed
expectations with their observed values and example rows) from the :class:`~pintel.quality.results.SuiteResult`
list alone, with no script, no web font and no link: ``<reports>/data_quality.html``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from pintel.quality.results import SuiteResult

__all__ = ["dq_report_html", "write_dq_report"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 70rem;
       color: #1f2328; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.meta { color: #57606a; } table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #1a7f37; font-weight: 600; } .failed, .error { color: #cf222e; font-weight: 600; }
.skipped { color: #9a6700; font-weight: 600; } code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; white-space: pre-wrap; margin: .25rem 0; }
"""


def _status(result: SuiteResult) -> str:
    return f'<span class="{escape(result.status)}">{escape(result.status)}</span>'


def _failures(result: SuiteResult) -> str:
    items = []
    for failure in result.failures:
        where = f" on <code>{escape(str(failure.get('column')))}</code>" if failure.get("column") else ""
        observed = json.dumps(failure.get("observed", {}), indent=1, default=str)[:4000]
        items.append(
            f"<li><code>{escape(str(failure.get('expectation')))}</code>{where}<pre>{escape(observed)}</pre></li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def dq_report_html(results: Sequence[SuiteResult], generated: datetime | None = None) -> str:
    """The report as one HTML document (nothing it shows is fetched from anywhere)."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    blocking = [r for r in results if r.blocking]
    verdict = "BLOCKED: a critical suite failed" if blocking else "no critical suite failed"
    rows = "".join(
        f"<tr><td><code>{escape(r.suite)}</code></td><td>{escape(r.asset)}</td>"
        f"<td>{'critical' if r.critical else 'warning'}</td><td>{_status(r)}</td>"
        f'<td class="num">{r.evaluated}</td><td class="num">{r.failed}</td>'
        f'<td class="num">{"" if r.observed_row_count is None else f"{r.observed_row_count:,}"}</td>'
        f"<td>{escape(r.description or (r.skip_reason or ''))}</td></tr>"
        for r in results
    )
    details = "".join(
        f"<h2><code>{escape(r.suite)}</code>: {_status(r)}</h2>{_failures(r)}"
        for r in results
        if r.failures or r.status == "error"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pintel data quality</title><style>{_CSS}</style></head><body>"
        f'<h1>Data quality</h1><p class="meta">{len(results)} suites, {escape(verdict)} · generated {when} · '
        "the same results as the GX Data Docs beside it (data_docs/index.html), readable offline</p>"
        "<table><thead><tr><th>suite</th><th>table</th><th>gate</th><th>status</th><th>expectations</th>"
        f"<th>failed</th><th>rows</th><th>what it checks</th></tr></thead><tbody>{rows}</tbody></table>"
        f"{details}</body></html>\n"
    )


def write_dq_report(results: Sequence[SuiteResult], reports: str | Path) -> Path:
    """Write ``<reports>/data_quality.html`` (atomically: a reader never sees half a page)."""
    path = Path(reports) / "data_quality.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dq_report_html(results))
    tmp.replace(path)
    return path
