"""The engine's warehouse tables: ``decide.decisions``, ``decide.action_outcomes`` and ``decide.snoozes``.

Written by the library in-process, not by dbt, because decisions must be made even when a critical
data-quality check stopped the dbt models, and because they are append-only: a row is never updated, and a
re-run with the same inputs adds nothing (``idempotency_key`` is unique and rows whose key exists are skipped).
Columns follow the engine/delivery contract; consumers read them through the contracted dbt models
``decisions_served`` / ``action_outcomes_served`` or :func:`load_decisions`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from pintel.tables import table_exists

SCHEMA = "decide"
DECISIONS = f"{SCHEMA}.decisions"
OUTCOMES = f"{SCHEMA}.action_outcomes"
SNOOZES = f"{SCHEMA}.snoozes"

DECISION_COLUMNS: dict[str, str] = {
    "decision_id": "varchar",
    "idempotency_key": "varchar",
    "created_at": "timestamp",
    "as_of": "timestamp",
    "source": "varchar",
    "source_id": "varchar",
    "decision": "varchar",
    "action_type": "varchar",
    "target": "varchar",
    "severity": "varchar",
    "probability_success": "double",
    "benefit": "double",
    "cost": "double",
    "expected_value": "double",
    "confidence": "double",
    "title": "varchar",
    "rationale": "varchar",
    "evidence": "varchar",
    "payload": "varchar",
    "input_tables": "varchar",
    "model_versions": "varchar",
    "policy_version": "varchar",
    "policy_hash": "varchar",
    "data_quality_status": "varchar",
    "freshness_status": "varchar",
    "kill_switch": "boolean",
    "automatic": "boolean",
    "evaluate_after": "timestamp",
    "status": "varchar",
}
OUTCOME_COLUMNS: dict[str, str] = {
    "outcome_id": "varchar",
    "decision_id": "varchar",
    "created_at": "timestamp",
    "as_of": "timestamp",
    "action_type": "varchar",
    "target": "varchar",
    "metric": "varchar",
    "comparison": "varchar",
    "before_value": "double",
    "after_value": "double",
    "control_value": "double",
    "effect": "double",
    "ci_low": "double",
    "ci_high": "double",
    "n_treated": "bigint",
    "n_control": "bigint",
    "verdict": "varchar",
    "summary": "varchar",
    "evidence": "varchar",
}
SNOOZE_COLUMNS: dict[str, str] = {
    "target": "varchar",
    "until": "timestamp",
    "reason": "varchar",
    "actor": "varchar",
    "created_at": "timestamp",
}
DECISIONS_VOCABULARY = ("act", "rollback", "monitor", "escalate")
ACTING = ("act", "rollback")
VERDICTS = ("success", "failure", "inconclusive")
JSON_COLUMNS = ("evidence", "payload", "input_tables", "model_versions")


def idempotency_key(
    source: str, source_id: str, decision: str, action_type: str, target: str, policy_version: str, as_of: datetime
) -> str:
    """sha256 (first 16 hex) of what makes a decision the same decision: a re-run with these inputs adds nothing."""
    raw = "|".join(str(p) for p in (source, source_id, decision, action_type, target, policy_version, as_of))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _create(con: Any, table: str, columns: Mapping[str, str], unique: str) -> None:
    cols = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    con.execute(f"create table if not exists {table} ({cols}, unique ({unique}))")


def ensure_schema(con: Any) -> None:
    """Create the schema and tables when missing (idempotent; columns are only ever added, never changed)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    _create(con, DECISIONS, DECISION_COLUMNS, "idempotency_key")
    _create(con, OUTCOMES, OUTCOME_COLUMNS, "outcome_id")
    _create(con, SNOOZES, SNOOZE_COLUMNS, '"target", "until"')


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def rows_frame(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """Rows as a frame of exactly ``columns``, JSON columns serialised (sorted keys), NaN as None."""
    records = []
    for row in rows:
        record = {}
        for name in columns:
            value = row.get(name)
            if name in JSON_COLUMNS and value is not None and not isinstance(value, str):
                value = json.dumps(value, sort_keys=True, default=_json_default)
            record[name] = _clean(value)
        records.append(record)
    return pd.DataFrame(records, columns=list(columns))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | pd.Timestamp):
        return pd.Timestamp(value).isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _append(con: Any, table: str, columns: Mapping[str, str], key: str, rows: list[Mapping[str, Any]]) -> int:
    """Insert the rows whose ``key`` is not in ``table`` yet; returns how many were added."""
    if not rows:
        return 0
    ensure_schema(con)
    frame = rows_frame(rows, columns).drop_duplicates(subset=[key], keep="first")
    names = ", ".join(f'"{c}"' for c in columns)
    casts = ", ".join(f'cast(new_rows."{c}" as {kind}) as "{c}"' for c, kind in columns.items())
    con.register("new_rows", frame)
    try:
        before = con.execute(f"select count(*) from {table}").fetchone()[0]
        con.execute(
            f"insert into {table} ({names}) select {casts} from new_rows "
            f"where new_rows.{key} not in (select existing.{key} from {table} as existing)"
        )
        after = con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.unregister("new_rows")
    return int(after - before)


def append_decisions(con: Any, rows: list[Mapping[str, Any]]) -> int:
    """Append decision rows (contract columns); rows whose idempotency key exists are skipped."""
    return _append(con, DECISIONS, DECISION_COLUMNS, "idempotency_key", rows)


def append_outcomes(con: Any, rows: list[Mapping[str, Any]]) -> int:
    """Append outcome rows; one per decision (``outcome_id`` = the decision id), never rewritten."""
    return _append(con, OUTCOMES, OUTCOME_COLUMNS, "outcome_id", rows)


def _read(
    con: Any, table: str, columns: Mapping[str, str], where: str = "", params: list | None = None
) -> pd.DataFrame:
    schema, name = table.split(".")
    if not table_exists(con, schema, name):
        return pd.DataFrame({c: pd.Series(dtype=_dtype(k)) for c, k in columns.items()})
    names = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f"select {names} from {table} {where}", params or []).df()


def _dtype(kind: str) -> str:
    return {"timestamp": "datetime64[us]", "double": "float64", "boolean": "boolean", "bigint": "Int64"}.get(
        kind, "object"
    )


def load_decisions(con: Any, since: datetime | None = None, *, as_of_before: datetime | None = None) -> pd.DataFrame:
    """Decisions (contract columns), oldest first; ``since`` filters on ``created_at`` (delivery's look-back),
    ``as_of_before`` on the data time (the engine's own history: only decisions about earlier data)."""
    clauses, params = [], []
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(since)
    if as_of_before is not None:
        clauses.append("as_of < ?")
        params.append(as_of_before)
    where = ("where " + " and ".join(clauses)) if clauses else ""
    return _read(con, DECISIONS, DECISION_COLUMNS, f"{where} order by as_of, created_at, decision_id", params)


def load_outcomes(con: Any, since: datetime | None = None) -> pd.DataFrame:
    """Action outcomes, oldest first (``since`` filters on ``created_at``)."""
    where, params = ("where created_at >= ?", [since]) if since is not None else ("", [])
    return _read(con, OUTCOMES, OUTCOME_COLUMNS, f"{where} order by as_of, decision_id", params)


def load_snoozes(con: Any) -> pd.DataFrame:
    return _read(con, SNOOZES, SNOOZE_COLUMNS, "order by created_at")


def add_snooze(con: Any, target: str, until: datetime, reason: str, actor: str, created_at: datetime) -> None:
    """Record a person's snooze of ``target`` until ``until`` (data time, naive UTC)."""
    if not target.strip():
        raise ValueError("a snooze needs a target (a flag key, a feature key, a list name or an incident id)")
    if not reason.strip():
        raise ValueError("a snooze needs a --reason (it is kept in decide.snoozes)")
    ensure_schema(con)
    con.execute(
        f'insert into {SNOOZES} (target, "until", reason, actor, created_at) values (?, ?, ?, ?, ?) '
        "on conflict do nothing",
        [target.strip(), until, reason.strip(), actor, created_at],
    )


def markdown_table(decisions: pd.DataFrame, limit: int = 50) -> str:
    """The decisions as a Markdown table (Dagster asset metadata, the CLI): newest first."""
    if decisions.empty:
        return "_No new decisions._"
    rows = decisions.sort_values(["as_of", "decision_id"], ascending=False).head(limit)
    lines = [
        "| as of (UTC) | decision | action | target | source | EV | confidence | title |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.to_dict("records"):
        ev = r.get("expected_value")
        conf = r.get("confidence")
        ev_text = f"{ev:,.0f}" if ev is not None and not pd.isna(ev) else "—"
        conf_text = f"{conf:.3f}" if conf is not None and not pd.isna(conf) else "—"
        title = str(r.get("title") or "").replace("|", "/")
        switched = " (kill switch)" if r.get("kill_switch") else ""
        lines.append(
            f"| {pd.Timestamp(r['as_of']):%Y-%m-%d %H:%M} | **{r['decision']}**{switched} | {r['action_type']} | "
            f"{r['target']} | {r['source']} | {ev_text} | {conf_text} | {title} |"
        )
    if len(decisions) > limit:
        lines.append(f"\n… and {len(decisions) - limit} more.")
    return "\n".join(lines)
