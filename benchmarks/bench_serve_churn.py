"""``GET /users/{id}/churn`` latency of ``pintel serve`` under open-loop load (target: p99 <= 10 ms at 200 req/s).

The server runs as its own process (real uvicorn) on 127.0.0.1 over a copy of the warehouse (so the run never
holds the real one); requests go out on a fixed schedule for a bounded time (see :mod:`benchmarks.loadgen`),
for random scored users, with 5 % unknown ids (404s are part of real traffic).

    python benchmarks/bench_serve_churn.py [--warehouse data/pintel.duckdb] [--rate 200] [--seconds 30]

With ``--synthetic-users N`` the churn table of the copy is replaced by N hand-made scores (to measure a
larger snapshot than the demo's); otherwise the warehouse must already hold ``ml.churn_scores_v*`` rows.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.loadgen import asgi_cpu_us, open_loop  # noqa: E402
from pintel.churn.served import served_churn_table  # noqa: E402
from pintel.settings import connect  # noqa: E402
from tests.support.serve import running_server  # noqa: E402


def _users(warehouse: Path, synthetic: int) -> list[str]:
    con = connect(warehouse, read_only=synthetic == 0)
    try:
        if synthetic:
            con.execute("create schema if not exists ml")
            con.execute(
                "create or replace table ml.churn_scores_v2 as select 'u' || lpad(cast(i as varchar), 8, '0') as "
                "user_id, date '2025-03-24' as snapshot_date, random() as churn_probability, 'low' as risk_band, "
                "'fewer active days' as reason_1, 'no key feature' as reason_2, null::varchar as reason_3, "
                "'v2' as model_version, 'x' as model_hash, date '2025-03-24' as served_snapshot_date, "
                "date '2025-03-24' as expected_snapshot_date, false as is_stale from range(?) t(i)",
                [synthetic],
            )
        table = served_churn_table(con)
        if table is None:
            raise SystemExit(f"{warehouse} has no ml.churn_scores_v* table: run the pipeline or use --synthetic-users")
        users = [u for (u,) in con.execute(f"select user_id from {table}").fetchall()]
    finally:
        con.close()
    if not users:
        raise SystemExit("the churn table is empty: nothing to look up (use --synthetic-users N)")
    return users


def _service_cpu_us(warehouse: Path, user: str) -> float:
    """CPU time per lookup through the ASGI app in this process (no network, no scheduler)."""
    from pintel.act.flags import snapshot_path
    from pintel.serve import ServeConfig, create_app

    app = create_app(ServeConfig(warehouse=warehouse, flags_file=snapshot_path(warehouse)))
    app.state.churn.start()
    return asgi_cpu_us(app, "GET", f"/users/{user}/churn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=REPO / "data" / "pintel.duckdb")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--synthetic-users", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.rate <= 2000:
        raise SystemExit("bounded runs only: --seconds <= 120, --rate <= 2000")
    faulthandler.dump_traceback_later(args.seconds + 180, exit=True)  # a hung run ends itself
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "pintel.duckdb"
        shutil.copy2(args.warehouse, warehouse)
        users = _users(warehouse, args.synthetic_users)
        rng = random.Random(7)
        total = int(args.rate * args.seconds)
        ids = [rng.choice(users) if rng.random() > 0.05 else f"unknown-{i}" for i in range(total)]
        service_cpu = _service_cpu_us(warehouse, users[0])
        started = time.perf_counter()
        with running_server(warehouse, refresh_seconds=1.0, log=Path(tmp) / "serve.log", access_log=False) as url:
            ready = time.perf_counter() - started
            host = url.removeprefix("http://")
            requests = [f"GET /users/{u}/churn HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for u in ids]
            result = asyncio.run(open_loop(url, requests, args.rate))
    result.update(
        users_in_snapshot=len(users),
        server_cpu_us_per_request=service_cpu,
        server_ready_seconds=round(ready, 2),
        rate=args.rate,
        seconds=args.seconds,
        load_average=os.getloadavg(),
        cpus=os.cpu_count(),
        target="p99 <= 10 ms at 200 req/s",
        met=result["p99_ms"] <= 10.0 and result["completed"] == result["requests"],
    )
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_churn.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
