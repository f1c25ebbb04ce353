"""Benchmark: a fresh causal feature-impact table (no previous rows) with 1 and more worker processes.

Reads ``ml_feature_adoption_cohort`` and ``dim_features`` from a built warehouse (read-only, ordered as the dbt model
reads them), then runs :func:`pintel.causal.feature_impact.feature_impact_table` with the dbt model's settings
(``adoption_window_days``, ``causal_n_folds``, ``causal_refute`` from the project's vars) once per ``--workers``
value, ``--rounds`` times interleaved (1, 2, 1, 2, ...: on a shared machine the load moves between runs). Per run:
wall seconds, CPU seconds of this process and of its (reaped) worker processes, the load average before and after.
Every table must equal the first one exactly (the worker count may change the wall time, never a row); a
difference is printed and the script exits with status 1.

On a shared machine the wall time of a parallel run says more about the neighbours than about the code, so the
serial runs also time every question (CPU seconds of :func:`pintel.causal.feature_impact.answer`) and replay the
pool's schedule on them: questions in the pool's order (largest cost first), each to the first worker free. The
longest worker is the wall time the same run would take with that many idle cores (plus starting the workers,
about 1.5 CPU s each, in parallel). Not a test; run it by hand:

    .venv/bin/python benchmarks/bench_causal_workers.py --warehouse build/bench/10M/wh/pintel.duckdb [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.causal import feature_impact
from pintel.causal.feature_impact import feature_impact_table
from pintel.dbt_project import project_vars


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def load_inputs(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        units = con.sql("select * from ml.ml_feature_adoption_cohort order by user_id, feature_key").df()
        features = con.sql("select * from marts.dim_features order by feature_key").df()
    finally:
        con.close()
    return units, features


def timed_answers(times: list[tuple[int, float]]):
    """``feature_impact.answer`` that also records each question's (cost, CPU seconds) -- serial runs only."""
    plain = feature_impact.answer

    def answer(question: feature_impact.Question) -> dict:
        started = time.process_time()
        row = plain(question)
        times.append((question.cost, time.process_time() - started))
        return row

    return answer


def makespan(times: list[tuple[int, float]], workers: int) -> float:
    """Wall seconds of the pool's schedule on idle cores: largest cost first, each question to the first free worker."""
    free = [0.0] * workers
    for _, seconds in sorted(times, key=lambda item: -item[0]):
        i = free.index(min(free))
        free[i] += seconds
    return max(free)


def one_run(units: pd.DataFrame, features: pd.DataFrame, workers: int, settings: dict) -> tuple[pd.DataFrame, dict]:
    load = os.getloadavg()[0]
    cpu_self, cpu_children, started = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    times: list[tuple[int, float]] = []
    plain = feature_impact.answer
    if workers == 1:
        feature_impact.answer = timed_answers(times)
    try:
        table = feature_impact_table(units, features, workers=workers, **settings)
    finally:
        feature_impact.answer = plain
    figures = {
        "workers": workers,
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_self_s": round(_cpu(resource.RUSAGE_SELF) - cpu_self, 1),
        "cpu_workers_s": round(_cpu(resource.RUSAGE_CHILDREN) - cpu_children, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "rows": len(table),
        "refuted_rows": int(table["refutations_run"].sum()),
    }
    if times:
        figures["questions_cpu_s"] = round(sum(t for _, t in times), 1)
        figures["longest_question_cpu_s"] = round(max(t for _, t in times), 1)
        figures["idle_wall_s_by_workers"] = {n: round(makespan(times, n), 1) for n in (1, 2, 3, 4)}
    return table, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    declared = project_vars()
    settings = {
        "window_days": int(declared["adoption_window_days"]),
        "n_folds": int(declared["causal_n_folds"]),
        "refute": str(declared["causal_refute"]),
    }
    units, features = load_inputs(args.warehouse)
    print(f"{len(units)} units, {len(features)} features, settings {settings}")
    first: pd.DataFrame | None = None
    runs, same = [], True
    for _ in range(args.rounds):
        for workers in args.workers:
            table, figures = one_run(units, features, workers, settings)
            if first is None:
                first = table
            else:
                try:
                    pd.testing.assert_frame_equal(table, first, check_exact=True)
                except AssertionError as exc:
                    same = False
                    print(f"workers={workers}: the table differs from the first run's: {exc}")
            figures["identical_to_first"] = same
            runs.append(figures)
            print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
