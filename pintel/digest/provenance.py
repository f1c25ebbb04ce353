"""The digest's provenance check: every number in its text must be a value of the tables it read.

Why: a digest is read by people who will not open the warehouse, so a wrong number in a sentence is a wrong
decision. The text comes from templates filled with query results; this check re-reads the finished text,
extracts every number as a reader would see it ("1,234", "12.5%", "-0.8 pp", "0.031") and looks each one up in
the frames the digest read (:class:`Evidence`): numeric cells, and numbers inside text cells (an incident's
summary is a text cell of ``ml.metric_incidents_served``). A number matches a value when the value, rounded to
the digits shown, is that number -- as a percentage (x100) when it is followed by ``%`` or ``pp``. Dates
(``2026-03-01``), ISO weeks and identifiers (``v2``, ``feature_3``) are not numbers.

A template that needs a number the warehouse does not hold (a week-over-week change, a share) computes it in
the SQL it reads, so the number is in a frame and its derivation is in the recorded query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd

#: A number as written in the digest: optional sign, thousands separators, decimals, and a unit (% / pp).
#: Not part of a date, a time, an identifier or a word (look-arounds), and not a bare ISO week "W07".
NUMBER = re.compile(
    r"(?<![\w.\-/:])(?P<sign>[-+−])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<unit>\s?%|\s?pp\b)?"
    r"(?![\w\-/:]|\.\d)"
)
#: Dates and datetimes are stripped before numbers are read (their parts are not claims about a metric).
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?(?:\s?UTC)?)?\b")


class ProvenanceError(ValueError):
    """A number in the digest's text is not in any table the digest read."""

    def __init__(self, unmatched: list[str]) -> None:
        self.unmatched = unmatched
        shown = "; ".join(unmatched[:10])
        super().__init__(
            f"{len(unmatched)} number(s) in the digest are not in the tables it read: {shown}"
            + (" ..." if len(unmatched) > 10 else "")
        )


@dataclass(frozen=True)
class Claim:
    """One number as shown: its text, its value, the decimals shown, and whether it is a percentage."""

    text: str
    value: Decimal
    decimals: int
    percent: bool
    context: str


@dataclass
class Evidence:
    """The frames the digest read, by name (``table`` or ``table:purpose``), with the SQL that read them."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, frame: pd.DataFrame, sql: str | None = None) -> pd.DataFrame:
        self.frames[name] = frame
        if sql:
            self.sql[name] = sql
        return frame

    def tables(self) -> list[str]:
        return sorted({name.split(":")[0] for name in self.frames})

    def values(self) -> list[float]:
        """Every number the frames hold: numeric cells, and the numbers written inside text cells."""
        out: list[float] = []
        for frame in self.frames.values():
            for column in frame.columns:
                series = frame[column]
                if pd.api.types.is_bool_dtype(series):
                    continue
                if pd.api.types.is_numeric_dtype(series):
                    out += [float(v) for v in series.dropna().to_numpy(dtype=float) if math.isfinite(v)]
                elif pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
                    for cell in series.dropna():
                        if isinstance(cell, str):  # "fell 31%" in a summary is the value 31 (and 0.31)
                            found = claims(cell)
                            out += [float(c.value) for c in found]
                            out += [float(c.value) / 100 for c in found if c.percent]
        return out


def claims(text: str) -> list[Claim]:
    """The numbers a reader sees in ``text`` (dates removed first)."""
    text = DATE.sub(" ", text)
    found = []
    for match in NUMBER.finditer(text):
        raw = match.group("num").replace(",", "")
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern only matches decimal literals
            continue
        if match.group("sign") in ("-", "−"):
            value = -value
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        unit = (match.group("unit") or "").strip()
        start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
        found.append(Claim(match.group(0).strip(), value, decimals, bool(unit), " ".join(text[start:end].split())))
    return found


def _rounded(value: float, decimals: int, mode: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=mode)


def _matches(claim: Claim, value: float) -> bool:
    scaled = value * 100 if claim.percent else value
    for candidate in (scaled, abs(scaled)) if claim.value >= 0 else (scaled,):
        if any(_rounded(candidate, claim.decimals, mode) == claim.value for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN)):
            return True
    return False


def unmatched(text: str, values: Iterable[float]) -> list[str]:
    """The numbers of ``text`` that no value rounds to, each with a few words around it."""
    pool = list(values)
    index: dict[int, list[float]] = {}
    for value in pool:  # bucket by integer part (and x100) so each claim compares against a few values
        for scaled in (value, value * 100):
            index.setdefault(int(abs(scaled)), []).append(value)
    missing = []
    for claim in claims(text):
        key = int(abs(claim.value))
        candidates = index.get(key, []) + index.get(key - 1, []) + index.get(key + 1, [])
        if not any(_matches(claim, v) for v in candidates):
            missing.append(f"{claim.text!r} in “{claim.context}”")
    return missing


def check(text: str, evidence: Evidence) -> int:
    """Raise :class:`ProvenanceError` naming every unmatched number; return how many numbers were checked."""
    missing = unmatched(text, evidence.values())
    if missing:
        raise ProvenanceError(missing)
    return len(claims(text))
