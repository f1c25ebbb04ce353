"""The kill switch for automatic actions: on, every ``act``/``rollback`` is delivered as ``monitor``.

Three ways to turn it on, any one is enough: the environment (``PINTEL_KILL_SWITCH=1``, for a deploy that must
never act), ``pintel kill-switch on --reason ...`` (audited in ``act.kill_switch_audit``), or — when the warehouse
is locked by a running job, so the audit row cannot be written now — a marker file beside the warehouse that
``pintel kill-switch on`` leaves instead. Why the marker: stopping automation must never wait for a lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from pintel.act.flags import utcnow
from pintel.act.schema import SCHEMA
from pintel.act.warehouse import database_path
from pintel.tables import table_exists

ENV = "PINTEL_KILL_SWITCH"
_TRUE = {"1", "true", "yes", "on"}


def marker_path(warehouse: str | Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.name}.kill-switch.json")


def _env_on(env_var: str) -> bool:
    return os.environ.get(env_var, "").strip().lower() in _TRUE


def _marker(con: Any) -> dict[str, Any] | None:
    db = database_path(con)
    path = marker_path(db) if db is not None else None
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"reason": f"marker file {path} (unreadable)", "actor": "unknown"}


def latest(con: Any) -> dict[str, Any] | None:
    """The newest audit row (changed_at, actor, state, reason), or None when never switched."""
    if not table_exists(con, SCHEMA, "kill_switch_audit"):
        return None
    row = con.execute(
        f"select changed_at, actor, state, reason from {SCHEMA}.kill_switch_audit order by changed_at desc limit 1"
    ).fetchone()
    return dict(zip(("changed_at", "actor", "state", "reason"), row, strict=True)) if row else None


def is_on(con: Any, env_var: str = ENV) -> tuple[bool, str]:
    """``(on, reason)``: the environment first, then the lock-time marker file, then the audited state."""
    if _env_on(env_var):
        return True, f"{env_var}={os.environ[env_var]} in the environment"
    marker = _marker(con)
    if marker is not None:
        return (
            True,
            f"{marker.get('reason', '')} (by {marker.get('actor', 'unknown')}, set while the warehouse was locked)",
        )
    row = latest(con)
    if row and row["state"]:
        return True, f"{row['reason']} (by {row['actor']} at {pd.Timestamp(row['changed_at']):%Y-%m-%d %H:%M} UTC)"
    return False, ""


def set_state(con: Any, on: bool, *, actor: str, reason: str) -> None:
    """Record a switch in the audit table and clear any marker file (the audit row now holds the state)."""
    if not reason or not reason.strip():
        raise ValueError("the kill switch needs a --reason (it is kept in act.kill_switch_audit)")
    if not actor or not actor.strip():
        raise ValueError("the kill switch needs an actor")
    marker = _marker(con)
    if marker is not None and on:
        reason = f"{reason.strip()} (marker left at {marker.get('at', '?')} by {marker.get('actor', '?')})"
    con.execute(f"insert into {SCHEMA}.kill_switch_audit values (?, ?, ?, ?)", [utcnow(), actor, on, reason.strip()])
    db = database_path(con)
    if db is not None:
        marker_path(db).unlink(missing_ok=True)


def write_marker(warehouse: str | Path, *, actor: str, reason: str) -> Path:
    """Turn the switch on without the warehouse (it is locked); the next audited switch replaces the marker."""
    path = marker_path(warehouse)
    path.write_text(json.dumps({"actor": actor, "reason": reason, "at": f"{utcnow():%Y-%m-%dT%H:%M:%SZ}"}))
    return path


def history(con: Any, limit: int = 20) -> pd.DataFrame:
    if not table_exists(con, SCHEMA, "kill_switch_audit"):
        return pd.DataFrame(columns=["changed_at", "actor", "state", "reason"])
    return con.execute(f"select * from {SCHEMA}.kill_switch_audit order by changed_at desc limit {int(limit)}").df()
