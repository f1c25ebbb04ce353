"""The flag store: ``act.feature_flags`` and its audit trail ``act.feature_flag_audit``.

Every change — by a person through ``pintel flags`` or the API, or by a decision — goes through :func:`change_flag`,
which writes the audit row (who, why, before, after) and the new flag in one transaction, then re-exports the
flagd snapshot file that ``pintel serve`` reads. Why a snapshot file: while any process holds a DuckDB file open,
no other can write it, so the server must not keep the warehouse open; it watches this small file instead.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pintel.act.flag import Flag, FlagError
from pintel.act.schema import SCHEMA
from pintel.act.warehouse import database_path
from pintel.tables import table_exists

log = logging.getLogger("pintel.act.flags")
DECISION_PREFIX = "decision:"
FLAG_SET_ID = "pintel"


def actor_kind(actor: str) -> str:
    """``decision`` for ``decision:<id>`` actors, ``human`` for everyone else."""
    return "decision" if actor.startswith(DECISION_PREFIX) else "human"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@dataclass(frozen=True)
class Change:
    """One audit row as written."""

    audit_id: int
    flag_key: str
    actor: str
    change: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    decision_id: str | None = None


def _row_to_flag(row: tuple) -> Flag:
    key, state, variants, default_variant, targeting, description, revision, updated_at, updated_by = row
    return Flag(
        key=key,
        state=state,
        variants=json.loads(variants),
        default_variant=default_variant,
        targeting=json.loads(targeting) if targeting is not None else None,
        description=description,
        revision=int(revision),
        updated_at=_iso(updated_at),
        updated_by=updated_by,
    )


_FLAG_COLUMNS = "key, state, variants, default_variant, targeting, description, revision, updated_at, updated_by"


def load_flags(con: Any) -> dict[str, Flag]:
    """Every flag by key (empty when the store does not exist yet; works on read-only connections)."""
    if not table_exists(con, SCHEMA, "feature_flags"):
        return {}
    rows = con.execute(f"select {_FLAG_COLUMNS} from {SCHEMA}.feature_flags order by key").fetchall()
    return {row[0]: _row_to_flag(row) for row in rows}


def get_flag(con: Any, key: str) -> Flag | None:
    if not table_exists(con, SCHEMA, "feature_flags"):
        return None
    row = con.execute(f"select {_FLAG_COLUMNS} from {SCHEMA}.feature_flags where key = ?", [key]).fetchone()
    return _row_to_flag(row) if row else None


def store_revision(con: Any) -> int:
    """The flag store's version: the newest audit id (0 for an empty store)."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        return 0
    return int(con.execute(f"select coalesce(max(audit_id), 0) from {SCHEMA}.feature_flag_audit").fetchone()[0])


def change_flag(
    con: Any,
    flag: Flag,
    *,
    actor: str,
    reason: str,
    change: str = "set",
    decision_id: str | None = None,
    reverts_audit_id: int | None = None,
) -> Change | None:
    """Write ``flag`` as the new definition of ``flag.key`` with its audit row; None when nothing changed.

    A ``decision:<id>`` actor must come with that ``decision_id``; people may not pose as decisions.
    """
    if not actor or not actor.strip():
        raise FlagError("a flag change needs an actor (who is changing it)")
    if not reason or not reason.strip():
        raise FlagError(f"a change to flag {flag.key} needs a reason (it is kept in the audit trail)")
    if actor_kind(actor) == "decision" and actor != f"{DECISION_PREFIX}{decision_id}":
        raise FlagError(f"actor {actor!r} is reserved for the decision it names")
    flag = flag.validated()
    now = utcnow()
    con.execute("begin transaction")
    try:
        before = get_flag(con, flag.key)
        if before is not None and before.definition() == flag.definition():
            con.execute("rollback")
            return None
        before_def = before.definition() if before is not None else None
        kind = "create" if before is None and change == "set" else change
        audit_id = con.execute(
            f"""insert into {SCHEMA}.feature_flag_audit
                (flag_key, changed_at, actor, actor_kind, change, reason, decision_id, reverts_audit_id, before, after)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning audit_id""",
            [
                flag.key,
                now,
                actor,
                actor_kind(actor),
                kind,
                reason.strip(),
                decision_id,
                reverts_audit_id,
                json.dumps(before_def, sort_keys=True) if before_def is not None else None,
                json.dumps(flag.definition(), sort_keys=True),
            ],
        ).fetchone()[0]
        con.execute(
            f"insert or replace into {SCHEMA}.feature_flags ({_FLAG_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                flag.key,
                flag.state,
                json.dumps(flag.variants, sort_keys=True),
                flag.default_variant,
                json.dumps(flag.targeting, sort_keys=True) if flag.targeting is not None else None,
                flag.description,
                audit_id,
                now,
                actor,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    try:
        write_snapshot(con)
    except OSError as exc:  # committed; the served file catches up at the next change, export or actions run
        log.warning("flag %s changed but the flag file could not be re-exported: %s", flag.key, exc)
    return Change(int(audit_id), flag.key, actor, kind, reason.strip(), before_def, flag.definition(), decision_id)


def serve_variant(flag: Flag, variant: str) -> Flag:
    """``flag`` serving ``variant`` to everyone: default variant set, targeting cleared, enabled."""
    if variant not in flag.variants:
        raise FlagError(f"flag {flag.key} has no variant {variant!r}; it has {sorted(flag.variants)}")
    return flag.with_definition({"default_variant": variant, "targeting": None, "state": "ENABLED"})


def audit_entry(con: Any, audit_id: int) -> dict[str, Any] | None:
    """One audit row as a dict (before/after parsed), or None."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        return None
    frame = con.execute(f"select * from {SCHEMA}.feature_flag_audit where audit_id = ?", [audit_id]).df()
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    for col in ("before", "after"):
        row[col] = json.loads(row[col]) if isinstance(row[col], str) else None
    return row


def revert(con: Any, audit_id: int, *, actor: str, reason: str, force: bool = False) -> Change | None:
    """Put the flag back as it was before audit row ``audit_id``; refuses when the flag changed since, unless forced.

    Reverting a flag's creation disables it (flagd's "as if it did not exist") rather than deleting its history.
    """
    entry = audit_entry(con, audit_id)
    if entry is None:
        raise FlagError(f"there is no flag audit row {audit_id}; see `pintel flags history`")
    current = get_flag(con, entry["flag_key"])
    if current is None:
        raise FlagError(f"flag {entry['flag_key']} of audit row {audit_id} is no longer in the store")
    if current.revision != audit_id and not force:
        raise FlagError(
            f"flag {current.key} changed after audit row {audit_id} (now at revision {current.revision} by "
            f"{current.updated_by}); revert that change first or pass --force"
        )
    target = entry["before"] or {**entry["after"], "state": "DISABLED"}
    return change_flag(
        con,
        current.with_definition(target),
        actor=actor,
        reason=reason,
        change="revert",
        reverts_audit_id=audit_id,
    )


def history(con: Any, key: str | None = None, limit: int = 50) -> Any:
    """Newest audit rows first, optionally for one flag (a pandas DataFrame)."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        import pandas as pd

        return pd.DataFrame(columns=["audit_id", "flag_key", "changed_at", "actor", "change", "reason"])
    where, params = ("where flag_key = ?", [key]) if key else ("", [])
    return con.execute(
        f"select * from {SCHEMA}.feature_flag_audit {where} order by audit_id desc limit {int(limit)}", params
    ).df()


def last_human_change(con: Any, flag_key: str, hours: float, now: datetime | None = None) -> dict[str, Any] | None:
    """The newest change to ``flag_key`` by a person within ``hours`` (actor, time, reason), or None."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        return None
    since = (now or utcnow()) - timedelta(hours=hours)
    row = con.execute(
        f"""select audit_id, actor, changed_at, reason from {SCHEMA}.feature_flag_audit
            where flag_key = ? and actor_kind = 'human' and changed_at >= ? order by audit_id desc limit 1""",
        [flag_key, since],
    ).fetchone()
    return dict(zip(("audit_id", "actor", "changed_at", "reason"), row, strict=True)) if row else None


def recent_human_change(con: Any, flag_key: str, hours: float) -> bool:
    """Whether a person changed ``flag_key`` in the last ``hours``: automatic changes must then leave it alone."""
    return last_human_change(con, flag_key, hours) is not None


def automatic_changes_on(con: Any, day: datetime) -> int:
    """How many flag changes decisions made on the UTC day of ``day`` (the policy caps them)."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        return 0
    start = datetime(day.year, day.month, day.day)
    return int(
        con.execute(
            f"""select count(*) from {SCHEMA}.feature_flag_audit
                where actor_kind = 'decision' and changed_at >= ? and changed_at < ?""",
            [start, start + timedelta(days=1)],
        ).fetchone()[0]
    )


def decision_change(con: Any, decision_id: str) -> dict[str, Any] | None:
    """The flag change a decision already made, if any (what makes delivery idempotent)."""
    if not table_exists(con, SCHEMA, "feature_flag_audit"):
        return None
    row = con.execute(
        f"select audit_id from {SCHEMA}.feature_flag_audit where decision_id = ? order by audit_id limit 1",
        [decision_id],
    ).fetchone()
    return audit_entry(con, int(row[0])) if row else None


# --- the flagd snapshot ---------------------------------------------------------------------------------------


def export_flagd(con: Any) -> dict[str, Any]:
    """The whole store as a flagd flag-definition document (``$schema`` https://flagd.dev/schema/v0/flags.json)."""
    flags = load_flags(con)
    return flagd_document(flags, store_revision(con))


def flagd_document(flags: dict[str, Flag], revision: int) -> dict[str, Any]:
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {key: flag.to_flagd() for key, flag in sorted(flags.items())},
        "metadata": {"flagSetId": FLAG_SET_ID, "version": str(revision), "exportedAt": _iso(utcnow())},
    }


def snapshot_path(warehouse: str | Path) -> Path:
    """Where the flag snapshot lives: ``$PINTEL_FLAGS_FILE``, else ``<warehouse>.flags.json`` beside the file."""
    configured = os.environ.get("PINTEL_FLAGS_FILE")
    if configured:
        return Path(configured).resolve()
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.stem}.flags.json")


def write_document(document: dict[str, Any], path: Path) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def write_snapshot(con: Any, path: Path | None = None) -> Path | None:
    """Re-export the snapshot ``pintel serve`` reads; no-op for an in-memory database without ``path``."""
    if path is None:
        db = database_path(con)
        if db is None:
            return None
        path = snapshot_path(db)
    return write_document(export_flagd(con), path)


def read_document(path: Path) -> tuple[dict[str, Flag], int]:
    """Flags and revision from a flagd document written by :func:`write_document` (or by hand, for flagd)."""
    document = json.loads(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("flags"), dict):
        raise FlagError(f"{path} is not a flagd flag-definition document (no 'flags' object)")
    flags = {key: Flag.from_flagd(key, obj).validated() for key, obj in document["flags"].items()}
    try:
        revision = int((document.get("metadata") or {}).get("version", 0))
    except (TypeError, ValueError):
        revision = 0
    return flags, revision
