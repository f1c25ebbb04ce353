"""The insight digest: what happened to the product, as charts and a few sentences a PM reads in a minute.

:func:`build_digest` reads the warehouse once, read-only (the marts, the models' served tables, the decision
engine's tables when they exist), fills the templates of :mod:`pintel.digest.metrics` and
:mod:`pintel.digest.models`, renders Markdown and one self-contained HTML page, and runs the provenance check
(:mod:`pintel.digest.provenance`) on both texts: a number that is not in a table it read fails the build
instead of reaching a reader. :func:`write_digest` writes ``<reports>/digest.html``, ``digest.md`` and the
charts under ``<reports>/digest/`` atomically, so a failed build leaves the last good digest in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pintel.digest import metrics, models, personal
from pintel.digest.provenance import Evidence, ProvenanceError, check
from pintel.digest.render import to_html, to_markdown, visible_text, write_charts
from pintel.digest.text import Reader, Section
from pintel.settings import connect

__all__ = ["CHART_DIR", "Digest", "ProvenanceError", "build_digest", "write_digest"]

CHART_DIR = "digest"
SECTIONS = (
    metrics.kpis,
    metrics.freshness,
    metrics.incidents,
    metrics.retention,
    models.churn,
    models.experiments,
    models.decisions,
    personal.recommendations,
    models.model_status,
    metrics.quarantine,
)


@dataclass
class Digest:
    title: str
    sections: list[Section]
    markdown: str
    html: str
    evidence: Evidence
    numbers_checked: int


def _title(sections: list[Section]) -> str:
    head = sections[0].title if sections else ""
    return "Product digest" + (head.removeprefix("Key metrics") if "week ending" in head else "")


def render(sections: list[Section], evidence: Evidence, warehouse: str, generated: datetime | None = None) -> Digest:
    """Markdown and HTML of ``sections``, provenance-checked against ``evidence`` (raises ProvenanceError)."""
    generated_at = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M")
    title = _title(sections)
    tables = evidence.tables()
    tables = [t for t in tables if t != "digest"]
    markdown = to_markdown(title, sections, generated=generated_at, tables=tables, chart_dir=CHART_DIR)
    page = to_html(title, sections, generated=generated_at, warehouse=warehouse, tables=tables)
    checked = check(markdown, evidence)
    check(visible_text(page), evidence)
    return Digest(title, sections, markdown, page, evidence, checked)


def build_digest(warehouse: str | Path, generated: datetime | None = None) -> Digest:
    """Read the warehouse (read-only, closed before rendering) and build the checked digest."""
    con = connect(warehouse, read_only=True)
    try:
        reader = Reader(con)
        reader.evidence.add(
            "digest:constants", pd.DataFrame({"value": [*metrics.CONSTANTS, *models.CONSTANTS, *personal.CONSTANTS]})
        )
        sections = [make(reader) for make in SECTIONS]
    finally:
        con.close()
    sections = [s for s in sections if s.lines or s.chart]
    return render(sections, reader.evidence, str(warehouse), generated)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_digest(warehouse: str | Path, reports: str | Path) -> tuple[Digest, dict[str, Path]]:
    """Build the digest and write it under ``reports``; nothing is written when the check fails."""
    digest = build_digest(warehouse)
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    write_charts(digest.sections, reports / CHART_DIR)
    paths = {"html": reports / "digest.html", "markdown": reports / "digest.md"}
    _atomic_write(paths["markdown"], digest.markdown)
    _atomic_write(paths["html"], digest.html)
    return digest, paths
