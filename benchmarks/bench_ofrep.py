"""OFREP flag evaluation latency of ``pintel serve`` under open-loop load (target: p99 <= 5 ms at 200 requests/s).

The server runs as its own process (``pintel serve``, real uvicorn) on 127.0.0.1; this process sends requests on
a fixed schedule (open loop: request i is due at i / rate, whether or not earlier ones have returned) for a
bounded time, and measures each latency from its *scheduled* time, so a stall counts against every request it
delays (no coordinated omission). Flags: 20, one of them the "50 % of android" rollout, with random users.

    python benchmarks/bench_ofrep.py [--rate 200] [--seconds 30] [--access-log]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.loadgen import asgi_cpu_us, open_loop  # noqa: E402
from pintel.act.edit import rollout_targeting  # noqa: E402
from pintel.act.flag import Flag  # noqa: E402
from pintel.act.flags import change_flag  # noqa: E402
from pintel.act.warehouse import writer  # noqa: E402
from tests.support.serve import running_server  # noqa: E402


def _seed(warehouse: Path) -> list[str]:
    keys = ["new_editor"] + [f"flag_{i:02d}" for i in range(19)]
    with writer(warehouse) as con:
        change_flag(
            con,
            Flag("new_editor", targeting=rollout_targeting(50, {"platform": "android"})),
            actor="bench",
            reason="bench",
        )
        for i, key in enumerate(keys[1:]):
            targeting = rollout_targeting(10 * (i % 10)) if i % 2 else None
            change_flag(con, Flag(key, targeting=targeting), actor="bench", reason="bench")
    return keys


def _request(host: str, key: str, context: dict) -> bytes:
    body = json.dumps({"context": context}).encode()
    return (
        f"POST /ofrep/v1/evaluate/flags/{key} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _load(url: str, keys: list[str], rate: float, seconds: float) -> dict[str, object]:
    rng = random.Random(7)
    host_port = url.removeprefix("http://")
    requests = [
        _request(
            host_port,
            "new_editor" if i % 2 == 0 else rng.choice(keys),
            {"targetingKey": f"user-{rng.randrange(100_000)}", "platform": rng.choice(["android", "ios"])},
        )
        for i in range(int(rate * seconds))
    ]
    return await open_loop(url, requests, rate)


def _service_cpu_us(warehouse: Path, requests: int = 3000) -> float:
    """CPU time per evaluation request through the ASGI app in this process (no network, no scheduler)."""
    from pintel.act.flags import snapshot_path
    from pintel.serve import ServeConfig, create_app

    app = create_app(ServeConfig(warehouse=warehouse, flags_file=snapshot_path(warehouse)))
    app.state.flags.start()
    body = json.dumps({"context": {"targetingKey": "user-1", "platform": "android"}}).encode()
    return asgi_cpu_us(app, "POST", "/ofrep/v1/evaluate/flags/new_editor", body, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--access-log", action="store_true", help="Run the server with uvicorn's access log on.")
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.rate <= 2000:
        raise SystemExit("bounded runs only: --seconds <= 120, --rate <= 2000")
    faulthandler.dump_traceback_later(args.seconds + 120, exit=True)  # a hung run ends itself
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "bench.duckdb"
        keys = _seed(warehouse)
        service_cpu = _service_cpu_us(warehouse)
        with running_server(
            warehouse, refresh_seconds=1.0, log=Path(tmp) / "serve.log", access_log=args.access_log
        ) as url:
            result = asyncio.run(_load(url, keys, args.rate, args.seconds))
    result.update(
        server_cpu_us_per_request=service_cpu,
        rate=args.rate,
        seconds=args.seconds,
        access_log=args.access_log,
        load_average=os.getloadavg(),
        target="p99 <= 5 ms at 200 req/s",
        met=result["p99_ms"] <= 5.0 and result["completed"] == result["requests"],
    )
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ofrep.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
