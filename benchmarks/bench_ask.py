"""Benchmark: `pintel ask` latency per question, CLI start-up included (a fresh process per question).

Target: p95 <= 1 s on the demo warehouse (5 000 users x 90 days, `make demo`). Not a test (timings depend on the
box); run it by hand:

    .venv/bin/python benchmarks/bench_ask.py [--warehouse data/pintel.duckdb] [--repeats 2]

Every question of tests/ask/questions.yml is asked as `pintel ask QUESTION --json --warehouse W` in a new
process, ``--repeats`` times. A query shape never seen before is compiled by MetricFlow (2-4 s, mostly importing
it) and cached beside the semantic manifest. By default `pintel ask --warm` runs first (single-dimension shapes
compiled ahead), as `make demo` would; ``--cold`` clears the cache instead, so the first pass shows the cost of
compiling on first use. Passes after the first are *warm* (the state of a warehouse people ask questions of), and
the warm p95 is the figure against the target. The load average is printed because on a shared box it explains
most of the spread, with each question's CPU time (user + system): on a box shared with other jobs that is what
one question costs, while wall time includes waiting for a core. The bare interpreter start-up (`python -c pass`)
is printed as the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "ask" / "questions.yml"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


CPU: list[float] = []  # user + system seconds of each child: what the box would take unloaded


def ask_once(question: str, warehouse: Path) -> tuple[float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("pintel")), "ask", question, "--json", "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return seconds, json.loads(done.stdout)


def summary(label: str, times: list[float]) -> str:
    return (
        f"{label}: n={len(times)} p50={percentile(times, 0.5):.3f}s p95={percentile(times, 0.95):.3f}s "
        f"max={max(times):.3f}s mean={statistics.mean(times):.3f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse", type=Path, default=Path(os.environ.get("PINTEL_WAREHOUSE", "data/pintel.duckdb"))
    )
    parser.add_argument("--repeats", type=int, default=2, help="warm passes over the question set")
    parser.add_argument("--cold", action="store_true", help="clear the compiled-SQL cache before the first pass")
    args = parser.parse_args()
    warehouse = args.warehouse.resolve()
    questions = [item["q"] for item in yaml.safe_load(QUESTIONS.read_text())]
    cache = warehouse.parent / "dbt_target" / "pintel_ask_compiled.json"
    if args.cold and cache.exists():
        cache.unlink()
    if not args.cold:
        start = time.perf_counter()
        pintel = str(Path(sys.executable).with_name("pintel"))
        subprocess.run([pintel, "ask", "--warm", "--warehouse", str(warehouse)], check=True, cwd=ROOT)
        print(f"pintel ask --warm: {time.perf_counter() - start:.1f}s")

    floor = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - start)
    print(f"load average {os.getloadavg()[0]:.1f}; interpreter start-up {min(floor):.3f}s")

    first = [ask_once(q, warehouse) for q in questions]
    print(summary("first pass (cold shapes compiled)", [t for t, _ in first]))
    statuses = {}
    for _, answer in first:
        statuses[answer["status"]] = statuses.get(answer["status"], 0) + 1
    print(f"statuses: {statuses}")

    CPU.clear()
    warm: list[float] = []
    slowest: list[tuple[float, str]] = []
    for _ in range(args.repeats):
        for question in questions:
            seconds, _ = ask_once(question, warehouse)
            warm.append(seconds)
            slowest.append((seconds, question))
    print(summary(f"warm ({args.repeats} passes)", warm))
    print(summary("warm, CPU seconds per question (user + system)", CPU))
    for seconds, question in sorted(slowest, reverse=True)[:5]:
        print(f"  {seconds:.3f}s  {question}")
    p95 = percentile(warm, 0.95)
    print(f"target p95 <= 1.0 s: {'met' if p95 <= 1.0 else 'NOT met'} ({p95:.3f} s)")


if __name__ == "__main__":
    main()
