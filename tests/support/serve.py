"""``pintel serve`` as a real uvicorn process on a free 127.0.0.1 port, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(
    warehouse: Path,
    *,
    env: dict[str, str] | None = None,
    refresh_seconds: float = 0.2,
    log: Path | None = None,
    access_log: bool = True,
) -> Iterator[str]:
    """Start ``pintel serve`` for ``warehouse``; yields its base URL; stops it (SIGTERM) afterwards."""
    port = free_port()
    args = [
        sys.executable,
        "-c",
        "from pintel.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--warehouse",
        str(warehouse),
        "--refresh-seconds",
        str(refresh_seconds),
        "--log-level",
        "info",
    ]
    args.append("--access-log" if access_log else "--no-access-log")
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"pintel serve exited with {proc.returncode} (see {log})")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("pintel serve did not become healthy in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()
