"""Simulator throughput and peak memory: events per second to Parquet, and peak RSS.

Usage: python benchmarks/bench_simulate.py [--users 12500] [--days 180] [--oracle-draws 32] [--actions FILE]
    [--drift all]
Runs the simulation in a child process so its peak RSS (ru_maxrss) and CPU time are measured alone. CPU
seconds (user + system of the child) are the figure to compare on a shared machine: wall time moves with the
load, CPU time much less. 12 500 x 180 is the issue-17 size (~10M messages).

``write_cpu_seconds`` separates writing from generating: every landing Parquet file is read back and encoded
again in memory with the simulator's options (snappy, statistics, dictionaries), timed alone, so
``cpu_seconds_with_startup - write_cpu_seconds`` is what generating the messages and the truth costs.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from pintel.simulate import SimConfig, simulate
extra = {"drift": tuple(sys.argv[6].split(","))} if sys.argv[6] else {}
cfg = SimConfig(users=int(sys.argv[1]), days=int(sys.argv[2]), seed=7, oracle_draws=int(sys.argv[4]), **extra)
t = time.perf_counter()
m = simulate(cfg, sys.argv[3], actions=sys.argv[5] or None) if sys.argv[5] else simulate(cfg, sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t, "messages": m["counts"]["messages_written"]}))
"""


def _write_cpu_seconds(root: Path) -> float:
    """CPU seconds to encode every landing Parquet file again, as the simulator's writer does (in memory)."""
    import pyarrow.parquet as pq

    spent = 0.0
    for path in sorted(root.glob("*/date=*/**/*.parquet")):
        table = pq.ParquetFile(path).read()  # the file alone (no hive columns from its folder)
        started = time.process_time()
        pq.write_table(table, io.BytesIO(), compression="snappy", write_statistics=True)
        spent += time.process_time() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=12_500)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--oracle-draws", type=int, default=32)
    parser.add_argument("--actions", default="", help="an actions file to replay (pintel simulate --actions)")
    parser.add_argument("--drift", default="", help="comma-separated drifts (price_change,persona_shift)")
    args = parser.parse_args()
    drift = "price_change,persona_shift" if args.drift == "all" else args.drift
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(args.users),
                str(args.days),
                str(out),
                str(args.oracle_draws),
                str(Path(args.actions).resolve()) if args.actions else "",
                drift,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        write_cpu = _write_cpu_seconds(out)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kib = usage.ru_maxrss
        cpu = usage.ru_utime + usage.ru_stime
    report = {
        "users": args.users,
        "days": args.days,
        "oracle_draws": args.oracle_draws,
        "messages": result["messages"],
        "simulate_seconds": round(result["seconds"], 1),
        "events_per_second": round(result["messages"] / result["seconds"]),
        "wall_seconds_with_startup": round(wall, 1),
        "cpu_seconds_with_startup": round(cpu, 1),
        "events_per_cpu_second": round(result["messages"] / cpu),
        "write_cpu_seconds": round(write_cpu, 1),
        "actions": args.actions or None,
        "drift": drift or None,
        "peak_rss_gib": round(peak_kib / 1024 / 1024, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
