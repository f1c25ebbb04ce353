"""Hand-made ``decide.decisions`` rows, per the engine/delivery contract (contracts/decisions.md).

The real engine (``pintel.decide``) writes these; delivery tests build them by hand so they can say exactly
which decision, severity, data-quality status and payload each case has.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pintel.decide.tables import DECISION_COLUMNS
from pintel.settings import connect

#: The table's columns and types: the engine's own definition, so hand-made rows always match what it writes.
COLUMNS = DECISION_COLUMNS

POLICY = {
    "version": "test-1",
    "routing": {"info": "#product-updates", "warning": "#product-alerts", "critical": ["#product-alerts", "C0ONCALL1"]},
    "human_override_hours": 24,
    "max_automatic_actions_per_day": 3,
    "kill_switch_env": "PINTEL_KILL_SWITCH",
}


def decision(**overrides: Any) -> dict[str, Any]:
    """One complete row: by default the bad-rollout rollback of ``new_editor`` on android."""
    row: dict[str, Any] = {
        "created_at": datetime(2025, 3, 3, 9, 5),
        "as_of": datetime(2025, 3, 3, 9, 0),
        "source": "incident",
        "source_id": "inc-android-0303",
        "decision": "rollback",
        "action_type": "rollback_flag",
        "target": "new_editor",
        "severity": "critical",
        "probability_success": 0.82,
        "benefit": 12000.0,
        "cost": 1500.0,
        "expected_value": 9570.0,
        "confidence": 0.97,
        "title": "new_editor rollout is cutting report_created on android",
        "rationale": (
            "report_created per exposed android user fell 31% (95% CI 24% to 38%) since new_editor went to 50% at "
            "06:00; unexposed android users did not move (difference-in-differences -0.29, p < 0.001)."
        ),
        "evidence": json.dumps({"did_estimate": -0.29, "ci": [-0.36, -0.22], "exposed_users": 412, "p_value": 0.0004}),
        "payload": json.dumps({"flag": "new_editor", "state": "off"}),
        "input_tables": json.dumps(["ml.metric_incidents_served", "marts.fct_events"]),
        "model_versions": json.dumps({"incidents": "stl-2.1"}),
        "policy_version": "test-1",
        "policy_hash": "ab12cd34ef56ab12cd34ef56",
        "data_quality_status": "passed",
        "freshness_status": "fresh",
        "kill_switch": False,
        "automatic": True,
        "evaluate_after": datetime(2025, 3, 4, 9, 0),
        "status": "proposed",
    }
    row.update(overrides)
    if "decision_id" not in overrides:
        parts = [row[k] for k in ("source", "source_id", "decision", "action_type", "target", "policy_version")]
        raw = "|".join(str(p) for p in [*parts, row["as_of"]])
        row["decision_id"] = hashlib.sha256(raw.encode()).hexdigest()[:16]
    row["idempotency_key"] = row["decision_id"]
    return row


def write_decisions(target: str | Path | duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Append ``rows`` to ``decide.decisions`` (created per the contract when missing); returns them as a frame."""
    con = target if isinstance(target, duckdb.DuckDBPyConnection) else connect(target)
    try:
        con.execute("create schema if not exists decide")
        cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        con.execute(f"create table if not exists decide.decisions ({cols})")
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        con.register("new_decisions", frame)
        con.execute(f"insert into decide.decisions select {', '.join(COLUMNS)} from new_decisions")
        con.unregister("new_decisions")
        return frame
    finally:
        if not isinstance(target, duckdb.DuckDBPyConnection):
            con.close()


def read_decisions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select * from decide.decisions order by created_at, decision_id").df()
