"""Benchmark: the metric-incident product bars on simulated warehouses, on several seeds.

The bars (README, "metric incidents"): recall >= 0.95 with the right root cause, <= 1 false incident per metric
per quarter -- measured on simulations *without* planted incidents (``incidents=False``), where every incident
is false -- and the android outage caught in its first hourly batch at 20 000 users.

For each seed the simulation is written and the marts the incident models read are built once under
``--workdir`` (reused unless ``--rebuild``); detection, grouping and attribution then run in Python exactly as
the ``metric_anomalies`` / ``metric_incidents`` dbt models call them (event taxonomy and
``event_segments_hourly`` included). Not a test (minutes per seed); run it by hand:

    .venv/bin/python benchmarks/bench_incidents_bars.py [--seeds 3 7 11] [--users 8000] [--days 35] [--json out.json]
    .venv/bin/python benchmarks/bench_incidents_bars.py --users 20000 --days 35 --planted-only  # first batch
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.build import build
from pintel.incidents import load_planted, metric_anomalies, metric_incidents, score_incidents
from pintel.settings import Settings, query
from pintel.simulate import SimConfig, simulate

MARTS = ["+activity_hourly", "+active_users_daily", "+signups_daily", "+event_segments_hourly"]
TAXONOMY = Path(__file__).resolve().parents[1] / "seeds" / "event_taxonomy.csv"


def prepare(cfg: SimConfig, workdir: Path, rebuild: bool) -> Settings:
    root = workdir / f"u{cfg.users}_d{cfg.days}_s{cfg.seed}_{'inc' if cfg.incidents else 'clean'}"
    settings = Settings(
        home=root,
        landing=root / "landing",
        warehouse=root / "pintel.duckdb",
        dbt_target="duckdb",
        reports=root / "reports",
    )
    if rebuild and root.exists():
        shutil.rmtree(root)
    if not (root / "built.ok").exists():
        simulate(cfg, root / "landing")
        build(settings, select=MARTS)
        (root / "built.ok").write_text("ok")
    return settings


def incidents_of(settings: Settings) -> tuple[pd.DataFrame, float]:
    warehouse = settings.warehouse
    started = time.perf_counter()
    anomalies = metric_anomalies(
        query(warehouse, "select * from marts.activity_hourly"),
        query(warehouse, "select * from marts.active_users_daily"),
        query(warehouse, "select * from marts.signups_daily"),
        event_taxonomy=pd.read_csv(TAXONOMY),
    )
    segments = query(warehouse, "select * from marts.event_segments_hourly")
    found = metric_incidents(anomalies, charts=False, event_segments=segments)
    return found, time.perf_counter() - started


def run(seed: int, users: int, days: int, workdir: Path, rebuild: bool, clean: bool = True) -> dict[str, object]:
    out: dict[str, object] = {"seed": seed, "users": users, "days": days}
    for planted_on in (True, False) if clean else (True,):
        cfg = SimConfig(users=users, days=days, seed=seed, incidents=planted_on)
        settings = prepare(cfg, workdir, rebuild)
        found, seconds = incidents_of(settings)
        truth = load_planted(settings.landing / "ground_truth")
        score = score_incidents(found, truth, days=days, metrics=["events", "active_users", "signups", "dau"])
        key = "planted" if planted_on else "clean"
        out[f"{key}_seconds"] = round(seconds, 1)
        if planted_on:
            matches = score.matches.set_index("planted_id")
            out.update(
                recall=score.recall,
                cause_accuracy=score.cause_accuracy,
                n_planted=score.n_planted,
                n_extra=score.n_extra,
                delays={k: matches.at[k, "delay_hours"] for k in matches.index},
                causes={k: matches.at[k, "detected_cause"] for k in matches.index},
                false_with_planted=score.n_false,
            )
        else:
            out.update(
                clean_incidents=len(found),
                clean_false_per_metric_90d=score.false_per_metric_90d,
                clean_max_false_per_metric_90d=score.max_false_per_metric_90d,
                clean_causes=sorted(found["cause"]) if len(found) else [],
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 7, 11])
    parser.add_argument("--users", type=int, default=8000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--workdir", type=Path, default=Path("build/bench_incidents_bars"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--planted-only", action="store_true", help="skip the simulations without incidents")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        row = run(seed, args.users, args.days, args.workdir, args.rebuild, clean=not args.planted_only)
        print(json.dumps(row, default=str), flush=True)
        rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
