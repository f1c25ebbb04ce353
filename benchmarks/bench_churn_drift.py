"""Benchmark: churn calibration under planted drift and on stationary data, over several seeds.

For each seed and scenario the script simulates a product (``stationary``: the defaults; ``drift``: the same
with ``--drift all`` -- the free plan's churn hazard doubles from mid-window and the signup persona mix shifts),
builds the warehouse and the churn models with the real dbt project, and prints one row per run from
``ml_churn_metrics`` (v2 and the oracle on the held-out latest window) plus the retrain decision of
``ml_churn_monitoring``. Figures go to BENCHMARKS.md ("Churn under drift").

The bar: v2 ROC-AUC >= oracle - 0.03 among users still present at the snapshot (the simulator's latent quit
date is after it; the already-gone are ranked from hidden state only the oracle sees), overall gap beside it;
v2 ECE <= 0.05 under drift.

Warehouses are kept under ``--workdir`` (one folder per run): ``--churn-only`` rebuilds only the churn models
on them, so the same worlds can be scored by two versions of the code (``PYTHONPATH=<other checkout>`` runs the
other version: dbt runs in-process and imports pintel from there).

    .venv/bin/python benchmarks/bench_churn_drift.py --workdir /tmp/churn_drift               # 3 seeds x 2
    .venv/bin/python benchmarks/bench_churn_drift.py --workdir /tmp/churn_drift --churn-only  # re-score
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_churn_models import CHURN_MODELS, UPSTREAM, cap_duckdb_memory, gone_decomposition, timed_dbt

from pintel.ingest.landing import load_landing
from pintel.settings import Settings
from pintel.simulate import SimConfig, simulate

#: scenario -> (planted drifts, days, drift day). Stationary is the demo's default world (5 000 users x 90
#: days); the drift worlds run 120 days: ``drift`` with the simulator's default change day (mid-window, so the
#: calibrate window already sees it), ``drift_late`` with the price change on day 80, after the calibrate
#: window's snapshots were taken and weeks before the test window's labels close: the case a calibrator
#: fitted on an earlier window gets wrong.
SCENARIOS = {
    "stationary": ((), 90, None),
    "drift": (("price_change", "persona_shift"), 120, None),
    "drift_late": (("price_change", "persona_shift"), 120, 80),
}
METRIC_COLUMNS = (
    "roc_auc",
    "ece",
    "brier",
    "high_risk_threshold",
    "recall_14d",
    "early_flag_churners",
    "high_risk_precision",
    "high_risk_share",
    "expected_cost",
    "cost_flag_none",
    "cost_flag_all",
)


def build_world(
    run: Path, seed: int, users: int, days: int, drift: tuple[str, ...], drift_day: int | None, churn_only: bool
) -> Settings:
    landing = run / "landing"
    settings = Settings(
        home=run, landing=landing, warehouse=run / "pintel.duckdb", dbt_target="duckdb", reports=run / "reports"
    )
    os.environ["PINTEL_REPORTS"] = str(settings.reports)
    cap_duckdb_memory(run, "6GB")
    if not (churn_only and settings.warehouse.exists()):
        simulate(SimConfig(users=users, days=days, seed=seed, drift=drift, drift_day=drift_day), landing)
        load_landing(landing, settings.warehouse)
        exclude = ["--exclude", *CHURN_MODELS, "--indirect-selection", "cautious"]
        seconds, _ = timed_dbt(settings, ["build", "--select", *UPSTREAM, *exclude])
        print(f"  upstream build {seconds:.0f} s", flush=True)
    seconds, _ = timed_dbt(settings, ["run", "--select", *CHURN_MODELS])
    print(f"  churn models {seconds:.0f} s", flush=True)
    return settings


def read_run(settings: Settings) -> dict:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        metrics = con.sql("select * from ml.ml_churn_metrics").df().set_index("model")
        decision = con.sql(
            "select model_version, retrain_needed, reasons from ml.ml_churn_monitoring where check_type = 'decision'"
        ).df()
        split = gone_decomposition(con, settings.landing / "ground_truth")
    finally:
        con.close()
    out: dict = {}
    for model in ("v1", "v2", "baseline", "oracle"):
        if model in metrics.index:
            for col in METRIC_COLUMNS:
                if col in metrics.columns:
                    out[f"{model}_{col}"] = float(metrics.loc[model, col])
    if split is not None and "oracle" in split.columns:
        out["v2_auc_present"] = float(split.loc["still there", "v2"])
        out["oracle_auc_present"] = float(split.loc["still there", "oracle"])
    for r in decision.itertuples():
        out[f"{r.model_version}_retrain"] = bool(r.retrain_needed)
        out[f"{r.model_version}_reasons"] = r.reasons
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, help="override the scenario's days")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--churn-only", action="store_true", help="reuse the warehouses, rebuild the churn models")
    parser.add_argument("--label", default="current", help="name of this code version in the results file")
    args = parser.parse_args()

    print(f"cores={os.cpu_count()} load average={os.getloadavg()}", flush=True)
    rows = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            run = args.workdir / f"{scenario}_{seed}"
            run.mkdir(parents=True, exist_ok=True)
            print(f"{scenario} seed {seed}: {run}", flush=True)
            start = time.perf_counter()
            drift, days, drift_day = SCENARIOS[scenario]
            settings = build_world(run, seed, args.users, args.days or days, drift, drift_day, args.churn_only)
            row = {"label": args.label, "scenario": scenario, "seed": seed, **read_run(settings)}
            row["seconds"] = round(time.perf_counter() - start)
            rows.append(row)
            with (args.workdir / "results.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    table = pd.DataFrame(rows)
    if "v2_auc_present" in table.columns:
        table["v2_gap_present"] = table["oracle_auc_present"] - table["v2_auc_present"]
        table["v2_gap_overall"] = table["oracle_roc_auc"] - table["v2_roc_auc"]
    shown = [c for c in table.columns if not c.endswith("_reasons")]
    pd.set_option("display.width", 250)
    print(table[shown].round(4).to_string(index=False))
    for r in table.itertuples():
        print(f"{r.scenario} {r.seed}: v2 retrain={getattr(r, 'v2_retrain', None)}: {getattr(r, 'v2_reasons', '')}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
