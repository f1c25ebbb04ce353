"""Warehouse build cost: a full build of the default dataset vs an incremental build of one more day.

Simulates 5 000 users x 91 days, lands the batches that arrived in the first 90 days, builds, then lands the
last day's batches and builds again (only those are loaded and processed), and finally times a full build from
scratch of all 91 days. Prints JSON; results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.support

from pintel.build import build
from pintel.settings import Settings
from pintel.simulate import SimConfig, simulate
from tests.support.landing import copy_landing, landing_days

# The warehouse proper (issue scope): seeds, staging, intermediate and marts, with their tests.
WAREHOUSE = ["resource_type:seed", "path:models/staging", "path:models/intermediate", "path:models/marts"]


def _settings(root: Path, landing: Path) -> Settings:
    return Settings(home=root, landing=landing, warehouse=root / "pintel.duckdb", dbt_target="duckdb", reports=root)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=91)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        full = root / "full"
        simulate(SimConfig(users=args.users, days=args.days, seed=7), full)
        last_day = landing_days(full)[args.days - 1]
        partial = root / "partial"
        copy_landing(full, partial, kinds=("identifies",))
        copy_landing(full, partial, before=last_day, kinds=("events",))  # the last day's batches are held back
        inc = _settings(root / "inc", partial)
        started = time.perf_counter()
        first = build(inc, select=WAREHOUSE)
        first_seconds = time.perf_counter() - started
        copy_landing(full, partial, kinds=("events",))
        started = time.perf_counter()
        second = build(inc, select=WAREHOUSE)
        incremental_seconds = time.perf_counter() - started
        started = time.perf_counter()
        build(_settings(root / "scratch", full), select=WAREHOUSE)
        full_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "users": args.users,
                "days": args.days,
                "first_build_seconds (90 days)": round(first_seconds, 1),
                "first_build_rows": first.load.new_rows,
                "incremental_build_seconds (+1 day)": round(incremental_seconds, 1),
                "incremental_rows_loaded": second.load.new_rows,
                "incremental_files_loaded": second.load.loaded_files,
                "incremental_load_seconds": round(second.seconds_load, 1),
                "incremental_dbt_seconds": round(second.seconds_dbt, 1),
                "full_rebuild_seconds (91 days)": round(full_seconds, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
