"""Opening the warehouse for the delivery side, under DuckDB's one-writer rule.

A DuckDB file has one writing process, and while any process holds it open (read-only included) no other process
can write. So writers here open late and close early, and a lock conflict becomes :class:`WarehouseLocked`, an
error that names the process holding the file instead of DuckDB's generic IO error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pintel.act.schema import ensure_schema
from pintel.settings import WarehouseLocked as SettingsLocked
from pintel.settings import connect

_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse file; ``holder`` names it (program and PID) when DuckDB says."""

    def __init__(self, path: Path, holder: str | None) -> None:
        self.path = path
        self.holder = holder or "another process"
        super().__init__(
            f"the warehouse {path} is locked by {self.holder}; DuckDB allows one writer at a time, "
            "retry when that process has finished (or stop it)"
        )


def lock_holder(error: BaseException) -> str | None:
    """``'/usr/bin/python3 (PID 1234)'`` from DuckDB's lock error, or None when it is not one.

    :func:`pintel.settings.connect` turns DuckDB's error into :class:`pintel.settings.WarehouseLocked`, which keeps
    the holder it parsed; a raw DuckDB error (another opener) is parsed here."""
    if isinstance(error, SettingsLocked):
        return f"{error.program} (PID {error.pid})" if error.pid is not None else None
    match = _HOLDER.search(str(error))
    return f"{match['program']} (PID {match['pid']})" if match else None


def open_writer(path: str | Path, wait_seconds: float = 0.0) -> duckdb.DuckDBPyConnection:
    """A writable connection with the ``act`` tables present; waits up to ``wait_seconds`` for a lock holder."""
    path = Path(path)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = connect(path)
            break
        except duckdb.IOException as exc:
            holder = lock_holder(exc)
            if holder is None and not isinstance(exc, SettingsLocked) and "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLocked(path, holder) from exc
            time.sleep(0.2)
    ensure_schema(con)
    return con


@contextmanager
def writer(path: str | Path, wait_seconds: float = 0.0) -> Iterator[Any]:
    """``with writer(path) as con:`` a short write connection, closed (and the file released) on exit."""
    con = open_writer(path, wait_seconds)
    try:
        yield con
    finally:
        con.close()


def database_path(con: Any) -> Path | None:
    """The file behind a DuckDB connection (None for in-memory), so helpers can find files kept beside it."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    return Path(row[0]).resolve() if row and row[0] else None
