"""The simulator's churn truth -> ``raw.truth_churn_snapshots``, for evaluation only.

``landing/ground_truth/churn_snapshots.parquet`` (written by ``pintel simulate``) holds, per weekly snapshot
and eligible user, the simulator's true churn probability (``oracle_probability``) and the realised label.
``ml_churn_metrics`` joins it to the held-out test window to report the ``oracle`` row, the ceiling no model
can beat. It is never a feature: the churn models only read ``marts.fct_user_features``.

``ground_truth/feature_propensities.parquet`` holds each user's true per-feature adoption propensity
(:mod:`pintel.simulate.truth_personal`) -> ``raw.truth_feature_propensities``, the oracle of
``ml_recommendation_metrics``; the snapshots' ``upgrade_oracle_probability`` is the oracle of
``ml_upgrade_metrics`` (NULL in landings simulated before it existed).

Real landings have no ground truth; then nothing is loaded and the metrics simply have no oracle row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

TRUTH_FILE = Path("ground_truth") / "churn_snapshots.parquet"
TABLE = "raw.truth_churn_snapshots"
FEATURE_TRUTH_FILE = Path("ground_truth") / "feature_propensities.parquet"
FEATURE_TABLE = "raw.truth_feature_propensities"


def load_truth(landing: str | Path, con: duckdb.DuckDBPyConnection) -> int:
    """(Re)load the churn truth of ``landing`` into :data:`TABLE`; returns its row count (0 when absent).

    Replaces the table as a whole (the file is rewritten whole by every simulation), so it is idempotent.
    When the landing folder has no truth file, an existing table is left untouched.
    """
    path = Path(landing) / TRUTH_FILE
    if not path.exists():
        return 0
    con.execute("create schema if not exists raw")
    columns = {row[0] for row in con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()}
    upgrade = "upgrade_oracle_probability" if "upgrade_oracle_probability" in columns else "null"
    con.execute(
        f"""
        create or replace table {TABLE} as
        select
            cast(snapshot_date as date) as snapshot_date,
            cast(user_id as varchar) as user_id,
            cast(oracle_probability as double) as oracle_probability,
            cast(churned_30d as integer) as churned_30d,
            cast(plan as varchar) as plan,
            cast({upgrade} as double) as upgrade_oracle_probability
        from read_parquet(?)
        """,
        [str(path)],
    )
    features = Path(landing) / FEATURE_TRUTH_FILE
    if features.exists():
        con.execute(
            f"""
            create or replace table {FEATURE_TABLE} as
            select
                cast(user_id as varchar) as user_id,
                cast(feature_key as varchar) as feature_key,
                cast(adoption_probability_per_active_day as double) as adoption_probability_per_active_day,
                cast(early_decision_propensity as double) as early_decision_propensity
            from read_parquet(?)
            """,
            [str(features)],
        )
    return int(con.execute(f"select count(*) from {TABLE}").fetchone()[0])
