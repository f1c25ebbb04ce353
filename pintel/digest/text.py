"""The digest's building blocks: a :class:`Section`, the reader that records what it read, and number formats.

Sentences are filled from query results through these formats only, so the provenance check
(:mod:`pintel.digest.provenance`) sees numbers written the one way it reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pintel.digest.provenance import Evidence
from pintel.tables import table_exists


@dataclass
class Table:
    """A small table shown under a section (already formatted cells)."""

    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """One part of the digest: a title, a few sentences, optionally a chart (SVG) and a table."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    chart: str | None = None
    chart_alt: str = ""
    table: Table | None = None
    empty: bool = False  # nothing to show yet (a model not built, no decisions): the lines say why

    def skip(self, reason: str) -> Section:
        """This section, marked empty with the sentence that says why (a digest never shows a blank section)."""
        self.lines.append(reason)
        self.empty = True
        return self


class Reader:
    """Runs the digest's queries on one read-only connection and keeps every frame as evidence."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.evidence = Evidence()

    def exists(self, table: str) -> bool:
        schema, name = table.split(".")
        return table_exists(self.con, schema, name)

    def read(self, name: str, sql: str, params: dict[str, Any] | list[Any] | None = None) -> pd.DataFrame:
        frame = self.con.execute(sql, params or []).df()
        return self.evidence.add(name, frame, sql)


def count(value: Any) -> str:
    """A whole number with thousands separators (``1,234``)."""
    return f"{round(float(value)):,}"


def pct(value: Any, decimals: int = 1) -> str:
    """A share as a percentage (``0.1234`` -> ``12.3%``)."""
    return f"{float(value) * 100:.{decimals}f}%"


def number(value: Any, decimals: int = 2) -> str:
    return f"{float(value):,.{decimals}f}"


def change(value: Any, decimals: int = 1) -> str:
    """``up 3.2%`` / ``down 3.2%`` / ``flat`` for a relative change."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "with no earlier period to compare"
    shown = f"{abs(float(value)) * 100:.{decimals}f}"
    if float(shown) == 0:
        return "flat"
    return f"{'up' if value > 0 else 'down'} {shown}%"


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT
