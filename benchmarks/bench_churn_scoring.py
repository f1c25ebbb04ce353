"""Benchmark: score 1 000 000 synthetic user-snapshots with trained churn models and print seconds.

Target: probabilities for 1 M rows in <= 10 s on 2 cores with v2; reason codes "reasonably fast" on top.
Not a test (timings depend on the box); run it by hand or in a perf job:

    .venv/bin/python benchmarks/bench_churn_scoring.py [--rows 1000000] [--repeats 3] [--threads 2]

Models are trained on a small synthetic panel (training speed is not what is measured), then each
configuration is timed ``--repeats`` times end to end through :func:`pintel.churn.score`, i.e. including
feature normalisation, one-hot encoding, calibration, risk bands and building the output frame. The best
run is the figure to compare (least disturbed by other processes); the median is printed too. The load
average is printed because on a shared box it explains most of the spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.churn import score, train_models
from tests.support.churn_panel import make_synthetic_panel


def scoring_frame(rows: int, seed: int) -> pd.DataFrame:
    """Exactly ``rows`` fct_user_features-shaped rows (a synthetic panel, resampled to size)."""
    panel = make_synthetic_panel(n_users=rows // 9 + 1, n_snapshots=12, seed=seed)
    take = np.random.default_rng(seed).choice(len(panel), size=rows, replace=len(panel) < rows)
    return panel.iloc[np.sort(take)].reset_index(drop=True)


def timed(fn, repeats: int) -> tuple[list[float], pd.DataFrame]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="OpenMP threads for scoring (0 = library default)")
    parser.add_argument("--train-users", type=int, default=10_000)
    args = parser.parse_args()
    threads = args.threads or None

    start = time.perf_counter()
    trained = train_models(make_synthetic_panel(args.train_users, 12, seed=0), seed=0, n_threads=threads)
    print(f"trained v1+v2 on {len(trained.train):,} rows in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    frame = scoring_frame(args.rows, seed=1)
    print(f"built {len(frame):,} scoring rows in {time.perf_counter() - start:.1f} s")
    print(f"cores={os.cpu_count()} threads={threads or 'default'} load average={os.getloadavg()}")

    configs = [  # (label, model version, score() keyword arguments, repeats)
        ("v2 probability only", "v2", {"reasons": False}, args.repeats),
        ("v2 + reasons (high/medium)", "v2", {"reasons": True, "reason_bands": ("high", "medium")}, 1),
        ("v2 + reasons (all rows)", "v2", {"reasons": True}, 1),
        ("v1 probability only", "v1", {"reasons": False}, args.repeats),
        ("v1 + reasons (all rows)", "v1", {"reasons": True}, 1),
    ]
    results = {}
    for label, version, kwargs, repeats in configs:
        model = trained.models[version]
        times, out = timed(lambda model=model, kwargs=kwargs: score(model, frame, n_threads=threads, **kwargs), repeats)
        assert len(out) == len(frame) and out["churn_probability"].between(0, 1).all()
        results[label] = min(times)
        print(f"{label:<28} best {min(times):6.2f} s   median {statistics.median(times):6.2f} s  (n={len(times)})")
        if kwargs["reasons"]:
            filled = out["reason_1"].notna().mean()
            print(f"{'':<28} reason_1 filled for {filled:.1%} of rows; e.g. {out['reason_1'].dropna().iloc[0]!r}")
    print(f"load average after: {os.getloadavg()}")

    best_v2 = results["v2 probability only"]
    verdict = "OK" if best_v2 <= 10.0 else "SLOWER THAN TARGET"
    print(f"v2 probability-only for {len(frame):,} rows: {best_v2:.2f} s (target <= 10 s): {verdict}")


if __name__ == "__main__":
    main()
