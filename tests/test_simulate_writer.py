"""The landing writer's memory bound: a capped write queue, so a slow disk cannot buffer the whole horizon."""

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
