"""The flags ``pintel serve`` evaluates: an in-memory snapshot, refreshed when the flag file changes.

Why not read the warehouse per request: while any process holds a DuckDB file open — read-only included — no
other process can write it, so a server that kept the warehouse open would block every build and every flag
change. The flag store instead re-exports a small flagd file after each committed change (atomically), and the
server polls that file's stat every ``refresh_seconds``: a change is served at most ``refresh_seconds`` after it is
committed (bounded staleness), and ``/health`` says how old the snapshot is. The warehouse is opened read-only
once, at start-up, in case the file is missing or behind it (a crash between commit and export).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pintel.act.flag import Flag, FlagError
from pintel.act.flags import flagd_document, load_flags, read_document, store_revision, write_document
from pintel.settings import connect

log = logging.getLogger("pintel.serve")


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the flag store; requests read whichever snapshot is current when they start."""

    flags: dict[str, Flag] = field(default_factory=dict)
    revision: int = 0
    source: str = "empty"
    loaded_at: float = field(default_factory=time.time)

    @property
    def version(self) -> str:
        return str(self.revision)


class SnapshotStore:
    """Holds the current :class:`Snapshot` and swaps in a new one when the flag file changes."""

    def __init__(self, warehouse: Path, flags_file: Path, refresh_seconds: float = 1.0) -> None:
        self.warehouse, self.flags_file, self.refresh_seconds = warehouse, flags_file, refresh_seconds
        self.current = Snapshot()
        self.last_error: str | None = None
        self.last_check = 0.0
        self._stat: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _file_stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.flags_file)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def start(self) -> Snapshot:
        """Load at start-up: the file, and the warehouse (read-only, briefly) when it is newer than the file."""
        self.refresh(force=True)
        if not self.warehouse.exists():
            return self.current
        try:
            con = connect(self.warehouse, read_only=True)
        except duckdb.IOException as exc:
            log.warning("warehouse %s is locked at start-up; serving the flag file only (%s)", self.warehouse, exc)
            return self.current
        try:
            revision = store_revision(con)
            flags = load_flags(con) if revision > self.current.revision else None
        finally:
            con.close()
        if flags is not None:
            self._swap(Snapshot(flags, revision, "warehouse"))
            try:  # the file lagged the warehouse: bring it up to date for flagd and for later refreshes
                write_document(flagd_document(flags, revision), self.flags_file)
                self._stat = self._file_stat()
            except OSError as exc:
                self.last_error = f"could not write {self.flags_file}: {exc}"
        return self.current

    def refresh(self, force: bool = False) -> bool:
        """Re-read the flag file if its stat changed; True when a new snapshot was swapped in."""
        self.last_check = time.time()
        stat = self._file_stat()
        if stat is None or (stat == self._stat and not force):
            return False
        try:
            flags, revision = read_document(self.flags_file)
        except (OSError, ValueError, FlagError) as exc:  # keep serving the last good snapshot
            self.last_error = f"{self.flags_file}: {exc}"
            log.error("flag file unreadable, still serving revision %s: %s", self.current.revision, exc)
            return False
        self._stat = stat
        self.last_error = None
        self._swap(Snapshot(flags, revision, "flag file"))
        return True

    def _swap(self, snapshot: Snapshot) -> None:
        with self._lock:
            self.current = snapshot

    def health(self) -> dict[str, object]:
        snap = self.current
        return {
            "flags": len(snap.flags),
            "revision": snap.revision,
            "source": snap.source,
            "loaded_at": datetime.fromtimestamp(snap.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checked_seconds_ago": round(time.time() - self.last_check, 3) if self.last_check else None,
            "refresh_seconds": self.refresh_seconds,
            "max_staleness_seconds": self.refresh_seconds,
            "flags_file": str(self.flags_file),
            "error": self.last_error,
        }
