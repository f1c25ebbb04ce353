"""What every source module hands the engine: a :class:`Candidate`, and the :class:`Context` it was made in.

A candidate is evidence about one target plus the action that evidence calls for; it is not yet a decision.
The engine prices it (:mod:`pintel.decide.value`), then applies the guards (:mod:`pintel.decide.guards`) --
data quality, the kill switch, a person's recent change, snoozes, cooldown, hysteresis and the daily cap -- in
that order, and only then writes a row. Keeping the sources free of those rules means a new source (say,
recommendations) only has to say what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from pintel.decide.policy import Policy
from pintel.tables import table_exists


@dataclass
class Candidate:
    """Evidence about ``target`` from ``source`` and the action it calls for.

    ``proposed`` is what the evidence alone says (``act``/``rollback`` when its rules matched, ``escalate``
    when a person must judge, ``monitor`` otherwise). ``units`` scales the policy's per-unit values;
    ``confidence`` (0..1) is how sure the evidence is that the finding is real.
    """

    source: str
    source_id: str
    action_type: str
    target: str
    proposed: str
    severity: str
    units: float
    confidence: float
    title: str
    rationale: str
    evidence: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    input_tables: list[str] = field(default_factory=list)
    model_versions: dict[str, str] = field(default_factory=dict)
    needs_data_quality: bool = True


@dataclass
class Context:
    """Everything a source may read: the connection, the policy, the data time and what the run knows."""

    con: Any
    policy: Policy
    as_of: datetime
    data_quality_status: str = "unknown"
    data_quality_detail: list[dict[str, Any]] = field(default_factory=list)
    freshness_status: str = "unknown"  # fresh / late / stale / closed (marts.data_freshness), or unknown
    freshness_note: str = ""  # how fresh, in words (quality.freshness.describe_feed): what messages show

    _exists: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def has(self, table: str) -> bool:
        """Whether the source table exists; asked once per table and run (a run reads, it does not create)."""
        if table not in self._exists:
            schema, name = table.split(".")
            self._exists[table] = table_exists(self.con, schema, name)
        return self._exists[table]

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()
