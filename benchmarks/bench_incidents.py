"""Benchmark: metric incidents and behavioural segments against the simulator's planted truth, on several seeds.

For each seed (default: 7 = the demo data, 11 and 23; 5 000 users x 90 days) the simulation is written and the
warehouse built once under ``--workdir`` (reused afterwards unless ``--rebuild``), selecting the incident and
segment models and what they need, so the figures are those of the served tables the pipeline produces:

* incidents (``ml.metric_incidents_served`` vs ``ground_truth/incidents.parquet``, see
  :mod:`pintel.incidents.evaluate`): recall, root-cause accuracy, delay in hours from the planted start to
  the first flagged hourly batch and to the batch that raised the incident, extra incidents for one planted
  cause, false incidents (total, per monitored metric per 90 days -- the README's "<= 1 false incident per
  metric per quarter" -- and per monitored series per 90 days);
* segments (``ml.user_segments_served`` vs ``ground_truth/users.parquet``): adjusted Rand index vs the planted
  personas, stability of a second dbt run (ARI and share of users keeping their id) and of a re-fit with
  another KMeans seed on a 90 % sample matched to the stored centroids.

The detection is also re-run in Python (timed) and checked to give the same incidents as the warehouse.
Not a test (minutes per seed); run it by hand:

    .venv/bin/python benchmarks/bench_incidents.py [--seeds 7 11 23] [--users 5000] [--days 90] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.build import build, run_dbt
from pintel.incidents import (
    daily_long,
    detect_metrics,
    hourly_long,
    load_planted,
    metric_incidents,
    score_incidents,
    select_anomalies,
)
from pintel.segments import discover_segments, segment_agreement, segment_stability
from pintel.settings import Settings, query
from pintel.simulate import SimConfig, simulate

SELECT = ["+metric_incidents_served", "+user_segments_served", "+dim_users"]


def prepare(seed: int, users: int, days: int, workdir: Path, rebuild: bool) -> tuple[Settings, float]:
    root = workdir / f"u{users}_d{days}_s{seed}"
    settings = Settings(
        home=root,
        landing=root / "landing",
        warehouse=root / "pintel.duckdb",
        dbt_target="duckdb",
        reports=root / "reports",
    )
    if rebuild or not settings.warehouse.exists():
        if root.exists():
            shutil.rmtree(root)
        simulate(SimConfig(users=users, days=days, seed=seed), settings.landing)
    start = time.perf_counter()
    build(settings, select=SELECT)
    return settings, time.perf_counter() - start


def evaluate(settings: Settings) -> dict[str, object]:
    truth = settings.landing / "ground_truth"
    hourly = query(settings.warehouse, "select * from marts.activity_hourly")
    daily_au = query(settings.warehouse, "select * from marts.active_users_daily")
    daily_su = query(settings.warehouse, "select * from marts.signups_daily")
    served = query(settings.warehouse, "select * from ml.metric_incidents_served")

    start = time.perf_counter()
    detected = detect_metrics(pd.concat([hourly_long(hourly), daily_long(daily_au, daily_su)], ignore_index=True))
    seconds_detect = time.perf_counter() - start
    start = time.perf_counter()
    again = metric_incidents(select_anomalies(detected), charts=False)
    seconds_incidents = time.perf_counter() - start
    assert set(again["incident_id"]) == set(served["incident_id"]), "Python re-run differs from the warehouse"

    series = detected[["metric", "grain", "segment_dim", "segment_value"]].drop_duplicates()
    days = (hourly["hour_at"].max() - hourly["hour_at"].min()) / pd.Timedelta(days=1) + 1 / 24
    score = score_incidents(
        served, load_planted(truth), days=days, metrics=sorted(set(series["metric"])), n_series=len(series)
    )

    segments = query(settings.warehouse, "select * from ml.user_segments_served")
    centroids = query(settings.warehouse, "select * from ml.user_segment_centroids")
    features = query(settings.warehouse, "select * from ml.ml_segment_features").pivot(
        index="user_id", columns="feature", values="feature_value"
    )
    personas = pd.read_parquet(truth / "users.parquet")
    run_dbt(settings, ["build", "--select", "user_segment_centroids+"])
    second = query(settings.warehouse, "select * from ml.user_segments_served")
    rerun_ari, rerun_same = segment_stability(segments, second)
    refit = discover_segments(features.sample(frac=0.9, random_state=1), seed=1, previous=centroids)
    refit_ari, refit_same = segment_stability(segments, refit.assignments)
    return {
        "score": score,
        "n_series": len(series),
        "seconds_detect": seconds_detect,
        "seconds_incidents": seconds_incidents,
        "segments_k": int(centroids["k"].iloc[0]),
        "segments_users": len(segments),
        "segments_ari_personas": segment_agreement(segments, personas),
        "segments_rerun_ari": rerun_ari,
        "segments_rerun_same_id": rerun_same,
        "segments_refit_ari": refit_ari,
        "segments_refit_same_id": refit_same,
    }


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/pintel_bench_incidents"))
    parser.add_argument("--rebuild", action="store_true", help="simulate and build again even if present")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    rows, details = [], {}
    for seed in args.seeds:
        settings, seconds_build = prepare(seed, args.users, args.days, args.workdir, args.rebuild)
        result = evaluate(settings)
        score = result.pop("score")
        matches = score.matches.set_index("planted_id")
        print(f"\nseed {seed}: {settings.warehouse}")
        print(
            matches[["planted_cause", "detected_cause", "delay_hours", "raised_delay_hours", "n_matches"]].to_string()
        )
        if len(score.false_incidents):
            print("false incidents:")
            for summary in score.false_incidents["summary"]:
                print(f"  - {summary}")
        row = {
            "seed": seed,
            **{k: v for k, v in score.as_dict().items() if k != "false_per_metric_90d"},
            **{f"delay_{k}": matches.at[k, "delay_hours"] for k in matches.index},
            **{f"raised_delay_{k}": matches.at[k, "raised_delay_hours"] for k in matches.index},
            **result,
            "seconds_build": seconds_build,
        }
        rows.append(row)
        details[seed] = {"false_per_metric_90d": score.false_per_metric_90d}

    table = pd.DataFrame(rows).set_index("seed")
    print(
        f"\n{args.users} users x {args.days} days; targets: recall >= 0.95, <= 1 false incident per metric per 90 days,"
    )
    print("root cause >= 0.90, delay 0 (first hourly batch), ARI vs personas >= 0.6, re-run stability ARI >= 0.95\n")
    shown = {
        "recall": "recall",
        "cause_accuracy": "cause acc",
        "max_false_per_metric_90d": "false/metric/90d (max)",
        "false_per_series_90d": "false/series/90d",
        "n_false": "false",
        "n_extra": "extra",
        "delay_android_partial_outage": "delay outage h",
        "delay_tracking_bug_report_created": "delay bug h",
        "delay_paid_social_signup_spike": "delay spike h",
        "raised_delay_android_partial_outage": "raised outage h",
        "raised_delay_tracking_bug_report_created": "raised bug h",
        "raised_delay_paid_social_signup_spike": "raised spike h",
        "segments_ari_personas": "ARI personas",
        "segments_rerun_ari": "ARI re-run",
        "segments_refit_ari": "ARI refit",
        "segments_refit_same_id": "same id refit",
        "segments_k": "k",
        "seconds_detect": "detect s",
    }
    view = table[[c for c in shown if c in table.columns]].rename(columns=shown)
    view.loc["mean"] = view.mean(numeric_only=True)
    print(view.T.to_string(float_format=lambda v: _fmt(v)))
    for seed, extra in details.items():
        print(f"seed {seed} false incidents per metric per 90 days: {extra['false_per_metric_90d']}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "details": details}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
