"""Churn scores for ``GET /users/{id}/churn``: a read-only in-memory snapshot of the served churn table.

The server never holds the warehouse open between refreshes: while any process holds a DuckDB file -- read-only
included -- the pipeline cannot write it. So the store watches the file's stat (the database and its WAL) every
``refresh_seconds``, like the flag watcher; when it changed and then stayed unchanged for ``settle_seconds``
(the writer is done), it opens the warehouse read-only, reads ``ml.churn_scores_v<latest>`` into a dict and
closes it at once. A file still locked by a writer is retried at the next poll while the last good snapshot is
served (``refresh_error`` says why). A lookup is a dict access: no I/O on the request path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pintel.churn.served import served_churn_table
from pintel.settings import connect

log = logging.getLogger("pintel.serve")

_COLUMNS = (
    "user_id",
    "churn_probability",
    "risk_band",
    "reason_1",
    "reason_2",
    "reason_3",
    "snapshot_date",
    "served_snapshot_date",
    "expected_snapshot_date",
    "is_stale",
    "model_version",
)


@dataclass(frozen=True)
class Score:
    probability: float
    band: str
    reasons: tuple[str, ...]
    snapshot_date: date


@dataclass(frozen=True)
class ChurnSnapshot:
    """One immutable load of the churn table; requests read whichever snapshot is current when they start."""

    scores: dict[str, Score] = field(default_factory=dict)
    table: str | None = None
    served_snapshot_date: date | None = None
    expected_snapshot_date: date | None = None
    is_stale: bool = False
    model_version: str | None = None
    loaded_at: float = field(default_factory=time.time)


def _iso(day: Any) -> str | None:
    return None if day is None else day.isoformat()


class ChurnStore:
    """Holds the current :class:`ChurnSnapshot`; :meth:`refresh` reloads it when the warehouse file changed."""

    def __init__(self, warehouse: Path, refresh_seconds: float = 1.0, settle_seconds: float | None = None) -> None:
        self.warehouse = warehouse
        self.refresh_seconds = refresh_seconds
        self.settle_seconds = max(refresh_seconds, 1.0) if settle_seconds is None else settle_seconds
        self.current = ChurnSnapshot()
        self.last_error: str | None = None
        self.last_check = 0.0
        self._loaded_stat: tuple[int, ...] | None = None
        self._pending: tuple[tuple[int, ...], float] | None = None
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, ...] | None:
        parts: list[int] = []
        for path in (self.warehouse, Path(f"{self.warehouse}.wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if path == self.warehouse:
                    return None
                parts += [0, 0]
                continue
            parts += [st.st_mtime_ns, st.st_size]
        return tuple(parts)

    def start(self) -> ChurnSnapshot:
        """Load at start-up (no settling: nothing is served yet)."""
        stat = self._stat()
        if stat is not None:
            self._load(stat)
        return self.current

    def refresh(self) -> bool:
        """Reload when the file changed and has been quiet for ``settle_seconds``; True when a load succeeded."""
        now = time.time()
        self.last_check = now
        stat = self._stat()
        if stat is None or stat == self._loaded_stat:
            self._pending = None
            return False
        if self._pending is None or self._pending[0] != stat:
            self._pending = (stat, now)  # changed since the last look: wait until the writer is done
            if self.settle_seconds > 0:
                return False
        if now - self._pending[1] < self.settle_seconds:
            return False
        return self._load(stat)

    def _load(self, stat: tuple[int, ...]) -> bool:
        try:
            con = connect(self.warehouse, read_only=True)
        except (duckdb.Error, OSError) as exc:  # a writer holds it: keep serving, retry at the next poll
            self.last_error = f"warehouse unavailable, serving the snapshot loaded earlier: {exc}"
            return False
        try:
            table = served_churn_table(con)
            rows = [] if table is None else con.execute(f"select {', '.join(_COLUMNS)} from {table}").fetchall()
        except duckdb.Error as exc:
            self.last_error = f"could not read churn scores: {exc}"
            return False
        finally:
            con.close()
        scores = {
            str(r[0]): Score(float(r[1]), str(r[2]), tuple(x for x in r[3:6] if x), r[6])
            for r in rows
            if r[1] is not None
        }
        first = rows[0] if rows else None
        snapshot = ChurnSnapshot(
            scores=scores,
            table=table,
            served_snapshot_date=first[7] if first else None,
            expected_snapshot_date=first[8] if first else None,
            is_stale=bool(first[9]) if first else False,
            model_version=first[10] if first else None,
        )
        with self._lock:
            self.current = snapshot
            self._loaded_stat = stat
            self._pending = None
        self.last_error = None
        log.info("churn snapshot: %d users from %s (%s)", len(scores), table, _iso(snapshot.served_snapshot_date))
        return True

    def lookup(self, user_id: str) -> dict[str, Any] | None:
        """The response body for ``user_id``, or None when the snapshot has no score for them."""
        snap = self.current
        score = snap.scores.get(user_id)
        if score is None:
            return None
        return {
            "user_id": user_id,
            "score": score.probability,
            "band": score.band,
            "reasons": list(score.reasons),
            "snapshot_date": _iso(score.snapshot_date),
            "served_snapshot": _iso(snap.served_snapshot_date),
            "expected_snapshot": _iso(snap.expected_snapshot_date),
            "stale": snap.is_stale,
            "model_version": snap.model_version,
            "table": snap.table,
            "loaded_at": datetime.fromtimestamp(snap.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def health(self) -> dict[str, Any]:
        snap = self.current
        return {
            "users": len(snap.scores),
            "table": snap.table,
            "served_snapshot": _iso(snap.served_snapshot_date),
            "stale": snap.is_stale,
            "loaded_at": datetime.fromtimestamp(snap.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checked_seconds_ago": round(time.time() - self.last_check, 3) if self.last_check else None,
            "error": self.last_error,
        }
