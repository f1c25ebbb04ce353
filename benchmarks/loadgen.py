"""An open-loop HTTP/1.1 load generator for the ``pintel serve`` benchmarks (bounded, 127.0.0.1 only).

Request i is sent at ``start + i / rate`` whether or not earlier ones have returned, and its latency is measured
from that *scheduled* time, so a stall counts against every request it delays (no coordinated omission). Keep-alive
connections are pooled; the generator speaks just enough HTTP to stay lighter than the server it measures.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def open_loop(url: str, requests: list[bytes], rate: float, warm_connections: int = 16) -> dict[str, object]:
    """Send ``requests`` to ``url`` (``http://127.0.0.1:PORT``) at ``rate`` per second; latency percentiles in ms."""
    host, port = url.removeprefix("http://").split(":")
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("benchmarks load only servers on 127.0.0.1")
    total = len(requests)
    latencies = np.full(total, np.nan)
    statuses: dict[int, int] = {}
    idle: list[Connection] = []

    async def connection() -> Connection:
        return idle.pop() if idle else Connection(*await asyncio.open_connection(host, int(port)))

    async def one(i: int, due: float) -> None:
        conn = await connection()
        try:
            status = await conn.send(requests[i])
        except (OSError, asyncio.IncompleteReadError):  # the server closed an idle keep-alive: one fresh try
            conn.writer.close()
            try:
                conn = Connection(*await asyncio.open_connection(host, int(port)))
                status = await conn.send(requests[i])
            except (OSError, asyncio.IncompleteReadError):
                statuses[0] = statuses.get(0, 0) + 1
                return
        latencies[i] = time.perf_counter() - due
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(conn)

    warm = [await connection() for _ in range(warm_connections)]
    for conn in warm:
        await conn.send(requests[0])
    idle.extend(warm)
    tasks = []
    start = time.perf_counter() + 0.1
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for conn in idle:
        conn.writer.close()
    done = latencies[~np.isnan(latencies)] * 1000
    return {
        "requests": total,
        "completed": int(done.size),
        "achieved_rate": round(done.size / elapsed, 1),
        "statuses": statuses,
        **{f"p{q}_ms": round(float(np.percentile(done, q)), 3) for q in (50, 90, 99, 99.9)},
        "max_ms": round(float(done.max()), 3),
    }


def asgi_cpu_us(app, method: str, path: str, body: bytes = b"", requests: int = 3000) -> float:
    """CPU microseconds per request through an ASGI ``app`` in this process (no network, no scheduler): the
    server's own cost, which a loaded machine cannot inflate the way it inflates wall-clock latency."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "state": {},
        "headers": headers if body else [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }

    async def call() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(_message: dict) -> None:
            return None

        await app(dict(scope), receive, send)

    async def run() -> float:
        for _ in range(200):
            await call()
        started = time.process_time()
        for _ in range(requests):
            await call()
        return (time.process_time() - started) / requests * 1e6

    return round(asyncio.run(run()), 1)
