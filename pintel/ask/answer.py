"""The answer: one JSON object (the `--json` contract) and a short sentence built from templates.

Every number in the text is formatted from the query result it reports, so the text cannot hold a number the
warehouse did not return (:func:`numbers_in` and :func:`unsupported_numbers` check that for any text, including an
LLM's).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

RATIO_UNITS = ("ratio",)


@dataclass
class Answer:
    question: str
    status: str  # answered | refused
    metric: str | None = None
    group_by: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    time_range: dict[str, str] | None = None
    values: list[dict[str, Any]] = field(default_factory=list)
    sql: str | None = None
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "metric": self.metric,
            "group_by": list(self.group_by),
            "filters": dict(self.filters),
            "time_range": self.time_range,
            "values": [
                {
                    "group": dict(v["group"]),
                    "period": v["period"].isoformat() if isinstance(v["period"], date) else v["period"],
                    "value": json_number(v["value"]),
                }
                for v in self.values
            ],
            "sql": self.sql,
            "explanation": self.explanation,
        }


def refused(question: str, why: str, nearest: list[str] | None = None) -> Answer:
    text = why
    if nearest:
        text += " Metrics I can answer that come closest: " + ", ".join(nearest) + "."
    return Answer(question=question, status="refused", explanation=text)


def json_number(value: float | None) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if float(value).is_integer():
        return int(value)
    return round(float(value), 6)


def fmt(value: float | None, unit: str) -> str:
    """A value as people read it: 1,234 users, 34.5 %, $1,290, 12.3 minutes."""
    if value is None:
        return "no value"
    if unit in RATIO_UNITS:
        return f"{100 * value:.1f} %"
    if unit == "usd":
        return f"${value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"${value:,.2f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def change(current: float | None, previous: float | None, unit: str) -> str:
    if current is None or previous is None:
        return "no comparison value"
    if unit in RATIO_UNITS:
        return f"{100 * (current - previous):+.1f} points"
    if previous == 0:
        return f"{fmt(current - previous, unit)} from zero"
    return f"{100 * (current / previous - 1):+.1f} %"


_NUMBER = re.compile(r"(?<![\w.])[-+]?\$?\d[\d,]*(?:\.\d+)?\s*%?")


def numbers_in(text: str) -> list[str]:
    """The numbers a text states (dates and ISO periods excluded: they are checked as dates)."""
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", " ", text)
    text = re.sub(r"\b\d{1,2}:\d{2}\b", " ", text)
    return [m.group(0).strip() for m in _NUMBER.finditer(text)]


def _as_float(token: str) -> tuple[float, bool, int]:
    """(number, is_percent, decimals shown)."""
    raw = token.replace("$", "").replace(",", "").replace("+", "").strip()
    percent = raw.endswith("%")
    raw = raw.rstrip("%").strip()
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    return float(raw), percent, decimals


def unsupported_numbers(text: str, allowed: list[float], extra: tuple[float, ...] = ()) -> list[str]:
    """Numbers in ``text`` that are none of ``allowed`` (as shown: rounded, as a percentage, or as a change).

    A stated number is supported when some allowed value rounds to it at the precision it is written with, either
    as is or times 100 when written as a percentage. Differences and relative changes between two allowed values
    count as supported, as do small integers in ``extra`` (e.g. the week number or top-N asked for).
    """
    pool = list(allowed)
    for a in allowed:
        for b in allowed:
            if a is not None and b is not None and a != b:
                pool.append(a - b)
                if b:
                    pool.append(a / b - 1)
    pool += list(extra)
    bad = []
    for token in numbers_in(text):
        try:
            number, _percent, decimals = _as_float(token)
        except ValueError:
            continue
        tolerance = 0.5 * 10 ** (-decimals) + 1e-9
        ok = False
        for value in pool:
            if value is None:
                continue
            for candidate in (value, 100 * value):
                if abs(abs(candidate) - abs(number)) <= tolerance:
                    ok = True
        if not ok:
            bad.append(token)
    return bad
