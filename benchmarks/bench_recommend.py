"""Benchmark: the recommender and the upgrade propensity on the demo world and two other seeds, plus scoring speed.

Acceptance figures of issue 18 (BENCHMARKS.md "Recommendations and upgrade propensity"):

* hit rate@5 / NDCG@5 on the 14 days after the cut-off: blended (served), ease, popularity, oracle;
* upgrade AUC / ECE on the latest labelled snapshot: v1, baseline, oracle;
* seconds to fit and score every user of synthetic usage matrices (``--scoring-users``, 12 500 by default: the
  user count of a ~10M-message world at this simulator's ~4.5 valid events per user-day over 90 days is 25 000
  users for 10M; 12 500 is what the issue asked to time, and 100 000 is timed too for the slope).

Each seed is simulated at the ``make demo`` size (5 000 users x 90 days) and built with the marts the models read
(no ML folder, so the causal model, the slowest part, is skipped: ``blended`` then equals ``ease``; pass
``--warehouse seed=path`` to reuse a full build, e.g. ``make demo``'s, where the causal lift is included):

    .venv/bin/python benchmarks/bench_recommend.py [--seeds 7 11 23] [--warehouse 7=data/pintel.duckdb]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pintel.build import build  # noqa: E402
from pintel.recommend.dbt_models import run_recommendation_metrics, run_upgrade_metrics  # noqa: E402
from pintel.recommend.ease import fit_ease  # noqa: E402
from pintel.recommend.rank import recommendations  # noqa: E402
from pintel.recommend.usage import UsageMatrix  # noqa: E402
from pintel.settings import connect  # noqa: E402
from pintel.simulate import SimConfig, simulate  # noqa: E402
from pintel.tables import table_exists  # noqa: E402
from tests.support.warehouse import settings_for  # noqa: E402

MARTS = ["+fct_user_features", "+dim_user_plans", "+fct_events", "+fct_user_daily", "+dim_features", "+dim_users"]


def world(seed: int, out: Path) -> Path:
    """Simulate and build seed ``seed`` under ``out``; returns the warehouse path."""
    landing, warehouse = out / "landing", out / "pintel.duckdb"
    if not (landing / "ground_truth" / "manifest.json").exists():
        simulate(SimConfig(users=5000, days=90, seed=seed), landing)
    if not warehouse.exists():
        build(settings_for(out, landing), select=MARTS, exclude=["path:models/ml"])
    return warehouse


def figures(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = connect(warehouse, read_only=True)
    try:
        t = con.table
        rels = (t("marts.fct_events"), t("marts.fct_user_daily"), t("marts.dim_features"))
        impact = (
            t("ml.causal_feature_impact_served") if table_exists(con, "ml", "causal_feature_impact_served") else None
        )
        truth = t("raw.truth_feature_propensities") if table_exists(con, "raw", "truth_feature_propensities") else None
        snaps = t("raw.truth_churn_snapshots") if table_exists(con, "raw", "truth_churn_snapshots") else None
        recs = run_recommendation_metrics(*rels, impact, truth)
        upgrade = run_upgrade_metrics(t("marts.fct_user_features"), t("marts.dim_user_plans"), rels[1], 30, snaps)
    finally:
        con.close()
    return recs, upgrade


def synthetic_usage(users: int, features: int = 20, seed: int = 0) -> UsageMatrix:
    """Five tastes over ``features`` columns, 3-8 uses per user: the catalogue scale of a real product."""
    rng = np.random.default_rng(seed)
    taste = rng.dirichlet(np.full(features, 0.3), size=5)
    group = rng.integers(0, 5, users)
    rows, cols = [], []
    for u in range(users):
        k = rng.integers(3, 9)
        cols.extend(rng.choice(features, size=k, replace=False, p=taste[group[u]]))
        rows.extend([u] * k)
    X = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(users, features))
    X.data[:] = 1.0
    return UsageMatrix(
        np.array([f"u{i}" for i in range(users)], dtype=object),
        np.array([f"f{j}" for j in range(features)], dtype=object),
        X,
    )


def scoring(users: int) -> dict[str, float]:
    usage = synthetic_usage(users)
    names = {str(f): str(f).upper() for f in usage.features}
    t0 = time.perf_counter()
    model = fit_ease(usage.X, 0.3)
    t1 = time.perf_counter()
    recs = recommendations(usage, model, names, {}, pd.Timestamp("2025-03-01").date())
    t2 = time.perf_counter()
    assert recs["user_id"].nunique() == users
    return {"users": users, "fit_s": t1 - t0, "score_and_reasons_s": t2 - t1, "rows": len(recs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[7, 11, 23])
    parser.add_argument("--warehouse", action="append", default=[], help="seed=path of an existing build")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_recommend")
    parser.add_argument("--scoring-users", type=int, nargs="*", default=[12_500, 100_000])
    args = parser.parse_args()
    given = {int(k): Path(v) for k, v in (w.split("=", 1) for w in args.warehouse)}
    for users in args.scoring_users:
        print("scoring", scoring(users), flush=True)
    for seed in args.seeds:
        warehouse = given.get(seed) or world(seed, args.out / f"seed{seed}")
        recs, upgrade = figures(warehouse)
        print(f"\n== seed {seed} ({warehouse})")
        print(recs.to_string(index=False))
        print(upgrade.to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
