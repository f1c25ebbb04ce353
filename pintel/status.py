"""Model run status: what each ML model did with this build's data -- ``ok``, ``skipped`` or ``stale`` -- and why.

A new team's first export is small: one user, a single day, one event name, no traits, no experiment. A model
that cannot learn from that must not fail the build, must not publish a guess, and must say so. The contract:

* the library raises :class:`InsufficientData` with the numbers ("1 user, need >= 30"), never a bare error;
* the dbt Python model wraps its work in :func:`guarded`, which turns that exception into the model's
  contracted output -- the last good run's rows when there are any (status ``stale``: users keep seeing the
  last good output, dated by ``last_ok_at``), else no rows (status ``skipped``) -- and notes the verdict;
* the Python model ``ml_model_runs``, downstream of every guarded model, turns the notes into one row per
  model (:func:`status_frame`), and the contracted SQL model ``ml_model_status`` serves them;
  ``pintel summary`` lists what was skipped or stale.

Anything else a model raises is a real failure and still fails the build.

Why notes in memory and not a table each model writes: dbt runs Python models in parallel threads of one
process (dbt-duckdb runs them in-process), and DDL issued from inside two concurrently running Python models
hung the build. The notes are keyed by the warehouse file, so builds of different warehouses in one process
(tests) never see each other's; a model that did not run in this dbt invocation keeps its previous row.

The thresholds themselves are named constants (or dbt vars) of the concept package that needs them, each
documented once there; this module only carries their verdicts.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pintel.tables import table_exists, typed_relation

__all__ = ["STATUSES", "STATUS_SCHEMA", "InsufficientData", "Note", "degraded", "guarded", "need", "status_frame"]

STATUSES = ("ok", "skipped", "stale")
STATUS_SCHEMA: dict[str, str] = {
    "model_name": "varchar",
    "status": "varchar",
    "reason": "varchar",
    "output_rows": "bigint",
    "run_at": "timestamp",
    "last_ok_at": "timestamp",
}


class InsufficientData(ValueError):
    """The input is valid but too small or too uniform to learn from; the message carries the numbers.

    A ``ValueError`` so callers that already treat "not enough data" as a value problem keep working.
    """


def need(count: int, unit: str, minimum: int | float, *, what: str = "") -> InsufficientData:
    """``InsufficientData("1 user, need >= 30 ...")``: the standard message for a count below its threshold.

    ``unit`` is singular; it gets an ``s`` for any count but one. ``what`` adds context ("to form 3 segments").
    """
    noun = unit if count == 1 else f"{unit}s"
    tail = f" {what}" if what else ""
    return InsufficientData(f"{count:,} {noun}, need \u2265 {minimum:,}{tail}")


@dataclass(frozen=True)
class Note:
    """One model run's verdict, as :func:`guarded` saw it."""

    model: str
    status: str
    reason: str
    run_at: dt.datetime


_notes: dict[tuple[str, str], Note] = {}
_lock = threading.Lock()


def _database_key(session: Any) -> str:
    """The warehouse file this session writes (or the database name of an in-memory one)."""
    row = session.execute(
        "select coalesce(path, database_name) from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return str(row[0])


def _note(session: Any, model: str, status: str, reason: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    note = Note(model, status, reason, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    with _lock:
        _notes[(_database_key(session), model)] = note


def guarded(
    dbt: Any,
    session: Any,
    build: Callable[[], Any],
    schema: Mapping[str, str],
    *,
    assess: Callable[[pd.DataFrame], tuple[str, str]] | None = None,
) -> Any:
    """Run ``build()`` for the dbt Python model ``dbt`` and note its status; on :class:`InsufficientData` keep
    the last good output (``stale``) or return an empty relation of ``schema`` (``skipped``).

    ``build`` returns the model's output: a pandas frame (typed here to ``schema``) or a DuckDB relation. The
    last good output is the model's current table: a table model returns it whole (dbt swaps the new table in
    only after the model returns), an incremental model returns no new rows, so what it had stays.
    ``assess`` judges a frame that was produced, e.g. ``("skipped", "0 experiments ...")`` for a readout with
    nothing to read out (default ``ok``).
    """
    this = dbt.this
    name = this.identifier
    try:
        result = build()
    except InsufficientData as exc:
        exists = table_exists(session, this.schema, name)
        kept = exists and session.execute(f"select count(*) from {this}").fetchone()[0] > 0
        if kept:
            _note(session, name, "stale", f"stale: {exc}; kept the last good output")
            new_rows = " where false" if getattr(dbt, "is_incremental", False) else ""
            return session.sql(f"select * from {this}{new_rows}")
        _note(session, name, "skipped", f"skipped: {exc}")
        return typed_relation(session, pd.DataFrame(columns=list(schema)), schema)
    status, reason = "ok", "learnt from this build's data"
    if isinstance(result, pd.DataFrame):
        reason = f"{len(result):,} rows"
        if assess is not None:
            status, reason = assess(result)
            reason = reason if status == "ok" else f"{status}: {reason}"
        result = typed_relation(session, result, schema)
    _note(session, name, status, reason)
    return result


def status_frame(session: Any, models: Mapping[str, Any], previous: pd.DataFrame | None) -> pd.DataFrame:
    """``ml_model_runs``: one row per guarded model -- this invocation's note, else the previous row.

    ``models`` maps each model name to its relation (``dbt.ref``; None when not built), whose row count becomes
    ``output_rows``;
    ``previous`` is this table's previous content (None on the first run). ``last_ok_at`` is the last ``ok``
    run: the date of a stale output.
    """
    key = _database_key(session)
    before = previous.set_index("model_name") if previous is not None and len(previous) else pd.DataFrame()
    rows = []
    for model, relation in models.items():
        with _lock:
            note = _notes.get((key, model))
        old = before.loc[model] if model in before.index else None
        if note is None and old is None:
            continue  # never ran against this warehouse
        if note is None:
            rows.append({"model_name": model, **old.to_dict()})
            continue
        last_ok = note.run_at if note.status == "ok" else (old["last_ok_at"] if old is not None else None)
        rows.append(
            {
                "model_name": model,
                "status": note.status,
                "reason": note.reason,
                "output_rows": None if relation is None else int(relation.aggregate("count(*)").fetchone()[0]),
                "run_at": note.run_at,
                "last_ok_at": last_ok,
            }
        )
    return pd.DataFrame(rows, columns=list(STATUS_SCHEMA))


def degraded(con: Any) -> tuple[int, list[str]] | None:
    """For ``pintel summary`` and the digest: (models reported, one line per skipped or stale model), or None
    when the warehouse has no ``ml.ml_model_status`` yet."""
    if not table_exists(con, "ml", "ml_model_status"):
        return None
    total = con.execute("select count(*) from ml.ml_model_status").fetchone()[0]
    rows = con.execute(
        "select model_name, status, reason, last_ok_at from ml.ml_model_status where is_degraded order by 1"
    ).fetchall()
    lines = []
    for model, status, reason, last_ok in rows:
        since = f" (last good output {last_ok:%Y-%m-%d %H:%M} UTC)" if status == "stale" and last_ok else ""
        lines.append(f"{model}: {reason}{since}")
    return total, lines
