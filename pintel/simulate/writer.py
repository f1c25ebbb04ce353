"""Writing messages as hourly landing batches by *arrival* time (``receivedAt``), as a collector would.

Late messages therefore land in later batches than their event time, which is what the warehouse's
incremental lookback has to cope with. Output is deterministic: rows keep the order they were generated in,
and files carry no wall-clock metadata.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HOUR_MS = 3_600_000
# Writes queued ahead of the writer thread at most (a day of hourly files): past it the simulation waits, so a
# writer slowed by a busy machine cannot make the queue -- and memory -- grow with the horizon.
MAX_QUEUED_WRITES = 24
MESSAGE_COLUMNS = ("messageId", "type", "event", "userId", "anonymousId", "timestamp", "receivedAt")


def _json_string(values: pa.Array) -> pa.Array:
    """A JSON string literal per value (``null`` for nulls); values are escaped for quotes and backslashes."""
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.fill_null(quoted, "null")


def to_json_lines(table: pa.Table, payload: str) -> pa.Array:
    """Serialise messages to Segment-spec JSON lines without a per-row Python loop."""
    parts: list = ["{"]
    for i, name in enumerate(MESSAGE_COLUMNS):
        parts += [("," if i else "") + f'"{name}":', _json_string(table[name].combine_chunks())]
    parts += [f',"{payload}":', table[payload].combine_chunks()]
    parts += [',"context":', table["context"].combine_chunks(), "}"]
    return pc.binary_join_element_wise(*parts, "")


def _lines_bytes(lines: pa.Array) -> bytes:
    """``"\\n".join(lines) + "\\n"`` as bytes, straight from the Arrow buffer (no Python string per line)."""
    if len(lines) == 0:
        return b"\n"
    terminated = pc.binary_join_element_wise(lines, "\n", "")
    offsets = np.frombuffer(terminated.buffers()[1], np.int32)[
        terminated.offset : terminated.offset + len(terminated) + 1
    ]
    return terminated.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


class BatchWriter:
    """Buffers messages per arrival hour and writes each hour once it can no longer receive messages.

    ``hours=24`` writes one batch per arrival day instead (used for the low-volume identify calls).
    """

    def __init__(self, out_dir: Path, kind: str, fmt: str, payload: str, hours: int = 1):
        self.root = out_dir / kind
        self.hours = hours
        self.fmt = fmt
        self.payload = payload
        # Per hour, the parts of sorted day tables (a future of the table, its first row, its row count).
        self.buffer: dict[int, list[tuple[Future, int, int]]] = defaultdict(list)
        self.files: list[Path] = []
        # Parquet encoding releases the GIL: writing on a worker overlaps it with the next day's simulation.
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future] = []
        self._waited = 0  # leading futures of ``_pending`` known to be done

    def add(self, table: pa.Table, received_ms: np.ndarray) -> None:
        """Queue ``table``'s rows under their arrival hours (a stable sort: rows keep generation order).

        One ``take`` of the whole table, then zero-copy slices: taking each hour's rows separately was measured
        slower at 10M messages, ~90 small takes a day cost more than one large one. The take runs on the writer
        thread (queued before the writes that read it; Arrow releases the GIL), off the simulating thread.
        """
        if table.num_rows == 0:
            return
        hour = received_ms // HOUR_MS
        order = np.argsort(hour, kind="stable")
        hour_sorted = hour[order]
        taken = self._pool.submit(table.take, pa.array(order))
        bounds = np.flatnonzero(np.diff(hour_sorted)) + 1
        starts = np.r_[0, bounds]
        ends = np.r_[bounds, len(order)]
        for s, e in zip(starts, ends, strict=True):
            self.buffer[int(hour_sorted[s]) // self.hours * self.hours].append((taken, int(s), int(e - s)))

    def flush(self, before_ms: int | None = None) -> None:
        """Write every buffered hour that starts before ``before_ms`` (all of them when None)."""
        for hour in sorted(self.buffer):
            if before_ms is not None and hour * HOUR_MS >= before_ms:
                break
            self._pending.append(self._pool.submit(self._write_parts, hour, self.buffer.pop(hour)))
            # One worker runs the writes in order: waiting on the oldest bounds the queue.
            while len(self._pending) - self._waited > MAX_QUEUED_WRITES:
                self._pending[self._waited].result()
                self._waited += 1
        if before_ms is None:
            self.close()

    def close(self) -> None:
        """Wait for every queued write (re-raising the first failure)."""
        pending, self._pending, self._waited = self._pending, [], 0
        for future in pending:
            self.files.append(future.result())

    def _write_parts(self, hour: int, parts: list[tuple[Future, int, int]]) -> Path:
        return self._write(hour, pa.concat_tables([taken.result().slice(s, n) for taken, s, n in parts]))

    def _write(self, hour: int, table: pa.Table) -> Path:
        # Rows keep generation order (deterministic); sorting ~50k rows per file costs more than it gives.
        stamp = np.datetime64(hour * HOUR_MS, "ms").astype("datetime64[h]").item()
        folder = self.root / f"date={stamp:%Y-%m-%d}"
        if self.hours == 1:
            folder = folder / f"hour={stamp:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        if self.fmt == "parquet":
            path = folder / "part-0.parquet"
            with pa.OSFile(str(path), "wb") as sink:  # a native file: no filesystem resolution per file
                pq.write_table(table, sink, compression="snappy", write_statistics=True)
        else:
            path = folder / "part-0.jsonl"
            path.write_bytes(_lines_bytes(to_json_lines(table, self.payload)))
        return path
