"""The landing writer's memory bounds: a capped write queue, and late rows that do not pin their day's batch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pintel.simulate.writer import HOUR_MS, MAX_QUEUED_WRITES, BatchWriter

DAY_MS = 24 * HOUR_MS


def _table(n: int, day: int) -> pa.Table:
    return pa.table({"messageId": [f"m{day}-{i}" for i in range(n)], "payload": ["x" * 50] * n})


def test_a_slow_writer_holds_the_simulation_back_instead_of_queueing_the_horizon(tmp_path: Path, monkeypatch) -> None:
    gate = threading.Event()
    real = BatchWriter._write

    def slow(self, hour, table):
        gate.wait()
        return real(self, hour, table)

    monkeypatch.setattr(BatchWriter, "_write", slow)
    w = BatchWriter(tmp_path, "events", "parquet", "payload")
    blocked = threading.Thread(
        target=lambda: [
            (w.add(_table(48, d), d * DAY_MS + np.arange(48) * HOUR_MS // 2), w.flush(before_ms=(d + 1) * DAY_MS))
            for d in range(3)
        ]
    )
    blocked.start()
    blocked.join(timeout=1)
    # The first day fills the queue (24 writes + the one running); flushing more waits for the writer.
    assert blocked.is_alive() and len(w._pending) <= MAX_QUEUED_WRITES + 1
    gate.set()
    blocked.join()
    w.flush()
    assert len(w.files) == 72 and sum(pq.read_metadata(p).num_rows for p in w.files) == 3 * 48


def test_late_rows_are_copied_out_of_their_days_batch(tmp_path: Path) -> None:
    w = BatchWriter(tmp_path, "events", "parquet", "payload")
    n = 10_000
    received = np.r_[np.zeros(n - 10, np.int64), np.full(10, 2 * DAY_MS)]  # ten rows arrive two days late
    w.add(_table(n, 0), received)
    w.flush(before_ms=DAY_MS)
    (late,) = w.buffer.values()
    assert late[0].num_rows == 10
    # a copy: its buffers are its own, sized for ten rows, not views of the 10 000-row batch
    assert late[0]["payload"].chunks[0].buffers()[2].size < 10 * 50 * 2
    w.flush()
    assert pq.read_table(w.files[-1])["messageId"].to_pylist() == [f"m0-{i}" for i in range(n - 10, n)]
