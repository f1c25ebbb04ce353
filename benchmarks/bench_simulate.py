"""Simulator throughput and peak memory: events per second to Parquet, and peak RSS.

Usage: python benchmarks/bench_simulate.py [--users 50000] [--days 180] [--oracle-draws 32]
Runs the simulation in a child process so its peak RSS (ru_maxrss) is measured alone.
"""

from __future__ import annotations

import argparse
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
cfg = SimConfig(users=int(sys.argv[1]), days=int(sys.argv[2]), seed=7, oracle_draws=int(sys.argv[4]))
t = time.perf_counter()
m = simulate(cfg, sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t, "messages": m["counts"]["messages_written"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--oracle-draws", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.users), str(args.days), str(out), str(args.oracle_draws)],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = {
        "users": args.users,
        "days": args.days,
        "oracle_draws": args.oracle_draws,
        "messages": result["messages"],
        "simulate_seconds": round(result["seconds"], 1),
        "events_per_second": round(result["messages"] / result["seconds"]),
        "wall_seconds_with_startup": round(wall, 1),
        "peak_rss_gib": round(peak_kib / 1024 / 1024, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
