"""A warehouse for the digest and the copilot API: the shared small warehouse, plus hand-made model outputs.

The small warehouse has the marts but no ML models (they are slow to train), so the tables the digest and
``/users/{id}/churn`` read from the models are written here by hand, in their contracted shapes: churn scores
(``ml.churn_scores_v2``, deterministic from the user id), decisions (``decide.decisions``, the engine/delivery
contract) and their outcomes (``decide.action_outcomes``, the engine's columns).
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pintel.churn.schemas import PREDICTION_SCHEMA
from pintel.settings import Settings, connect
from tests.support.decisions import decision, write_decisions

#: The served churn table: the model's prediction columns plus what serving adds (dbt macro served_churn_scores).
CHURN_COLUMNS = {
    **PREDICTION_SCHEMA,
    "served_snapshot_date": "date",
    "expected_snapshot_date": "date",
    "is_stale": "boolean",
}
REASONS = ("active days fell 60% in 2 weeks", "never used the key feature", "seats dropped to 1")


def probability(user_id: str) -> float:
    """A fixed score per user (a hash), so tests know each user's answer without reading the table."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def band(p: float) -> str:
    return "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"


def write_churn_scores(
    warehouse: Path | duckdb.DuckDBPyConnection, snapshot: str = "2025-03-24", stale: bool = False, version: str = "v2"
) -> int:
    """Replace ``ml.churn_scores_v2`` with a score for every user of ``marts.dim_users``; returns how many.

    ``warehouse`` is a path, or an open write connection (left open: a test holding the writer's lock)."""
    con = warehouse if isinstance(warehouse, duckdb.DuckDBPyConnection) else connect(warehouse)
    try:
        users = [u for (u,) in con.execute("select user_id from marts.dim_users order by user_id").fetchall()]
        expected = (pd.Timestamp(snapshot) + pd.Timedelta(days=7 if stale else 0)).date()
        frame = pd.DataFrame(
            {
                "user_id": users,
                "snapshot_date": pd.Timestamp(snapshot).date(),
                "churn_probability": [probability(u) for u in users],
                "risk_band": [band(probability(u)) for u in users],
                "reason_1": REASONS[0],
                "reason_2": REASONS[1],
                "reason_3": [REASONS[2] if probability(u) > 0.5 else None for u in users],
                "model_version": version,
                "model_hash": "0123abcd",
                "served_snapshot_date": pd.Timestamp(snapshot).date(),
                "expected_snapshot_date": expected,
                "is_stale": stale,
            }
        )
        con.execute("create schema if not exists ml")
        cols = ", ".join(f"{name} {kind}" for name, kind in CHURN_COLUMNS.items())
        con.execute(f"create or replace table ml.churn_scores_v2 ({cols})")
        con.register("scores", frame)
        con.execute(f"insert into ml.churn_scores_v2 select {', '.join(CHURN_COLUMNS)} from scores")
        con.unregister("scores")
        return len(users)
    finally:
        if con is not warehouse:
            con.close()


def write_outcomes(warehouse: Path, rows: list[dict]) -> None:
    con = connect(warehouse)
    try:
        con.execute("create schema if not exists decide")
        frame = pd.DataFrame(rows)
        con.register("outcomes", frame)
        con.execute("create or replace table decide.action_outcomes as select * from outcomes")
        con.unregister("outcomes")
    finally:
        con.close()


def copilot_warehouse(shared: Settings, root: Path, decisions: bool = True) -> Settings:
    """A private copy of ``shared`` (with its dbt target, for ``pintel ask``) with churn scores and decisions."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shared.warehouse, root / "pintel.duckdb")
    target = shared.warehouse.parent / "dbt_target"
    if target.exists():
        shutil.copytree(target, root / "dbt_target", ignore=shutil.ignore_patterns("*.msgpack", "logs"))
    settings = Settings(
        home=root,
        landing=shared.landing,
        warehouse=root / "pintel.duckdb",
        dbt_target="duckdb",
        reports=root / "reports",
    )
    write_churn_scores(settings.warehouse)
    if decisions:
        rollback = decision()
        monitor = decision(
            source="experiment",
            source_id="pricing_page_v2",
            decision="monitor",
            action_type="notify_experiment",
            target="pricing_page_v2",
            severity="info",
            title="pricing_page_v2 needs 9 more days for a readout",
            created_at=datetime(2025, 3, 3, 9, 6),
        )
        write_decisions(settings.warehouse, [rollback, monitor])
        write_outcomes(
            settings.warehouse,
            [
                {
                    "outcome_id": "o1",
                    "decision_id": rollback["decision_id"],
                    "created_at": datetime(2025, 3, 10, 9, 0),
                    "verdict": "success",
                    "metric": "report_created per android user",
                    "effect": 0.27,
                    "ci_low": 0.19,
                    "ci_high": 0.35,
                    "summary": "report_created per android user recovered by 27% (95% CI 19% to 35%).",
                }
            ],
        )
    return settings
