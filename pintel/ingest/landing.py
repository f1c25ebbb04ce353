"""Landing batches → ``raw`` tables in the warehouse, incrementally and idempotently.

Every file is recorded in ``raw.ingested_files`` with its path, row count, SHA-256 and load time. A file whose
path and checksum are already recorded is skipped, so re-loading the same batches is a no-op; a file that
changed under the same path is loaded again as a new batch (its repeated messages then count as duplicates).
Raw tables keep messages exactly as sent (text), plus where each row came from: nothing is parsed, fixed or
dropped here — validation is the staging models' job, so every row is accounted for downstream.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pintel.ingest.truth import load_truth
from pintel.settings import connect

SEGMENT_COLUMNS = ("messageId", "type", "event", "userId", "anonymousId", "timestamp", "receivedAt", "context")
KINDS = {"events": "properties", "identifies": "traits"}

DDL = """
create schema if not exists raw;
create table if not exists raw.ingested_files (
    file_id bigint primary key,
    path varchar not null,
    kind varchar not null,
    source varchar not null,
    file_format varchar not null,
    row_count bigint not null,
    checksum varchar not null,
    bytes bigint not null,
    loaded_at timestamp not null
);
create table if not exists raw.custom_events (
    source varchar not null,
    event_name varchar not null,
    registered_at timestamp not null,
    primary key (source, event_name)
);
"""

RAW_TABLE = """
create table if not exists raw.{kind} (
    _row_id varchar not null,
    _file_id bigint not null,
    _row_number bigint not null,
    _source varchar not null,
    _loaded_at timestamp not null,
    message_id varchar,
    message_type varchar,
    event varchar,
    user_id varchar,
    anonymous_id varchar,
    event_timestamp varchar,
    received_at varchar,
    {payload} varchar,
    context varchar,
    raw_line varchar,
    is_parseable boolean not null,
    message_bytes bigint not null
)
"""


@dataclass
class LoadReport:
    """What one load did: files and rows per kind, files skipped as already loaded."""

    loaded_files: dict[str, int] = field(default_factory=dict)
    loaded_rows: dict[str, int] = field(default_factory=dict)
    skipped_files: int = 0
    changed_files: list[str] = field(default_factory=list)

    @property
    def new_rows(self) -> int:
        return sum(self.loaded_rows.values())


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    for kind, payload in KINDS.items():
        con.execute(RAW_TABLE.format(kind=kind, payload=payload))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_of(path: Path, kind_dir: Path) -> str:
    """``events/source=<name>/...`` marks a team's own export; anything else came from the collector."""
    for part in path.relative_to(kind_dir).parts:
        if part.startswith("source="):
            return part.split("=", 1)[1]
    return "segment"


def discover(landing: Path) -> list[tuple[str, Path]]:
    """Landing files in a stable order: (kind, path)."""
    found = []
    for kind in KINDS:
        root = landing / kind
        if root.exists():
            found += [(kind, p) for p in sorted(root.rglob("*")) if p.suffix in {".parquet", ".jsonl"}]
    return found


def load_landing(landing: str | Path, warehouse: str | Path) -> LoadReport:
    """Load every new landing file into ``raw``; one transaction, so a failure leaves raw untouched."""
    landing = Path(landing)
    if not landing.exists():
        raise FileNotFoundError(f"landing folder {landing} does not exist; run `pintel simulate` or `pintel ingest`")
    report = LoadReport()
    con = connect(warehouse)
    try:
        ensure_raw_tables(con)
        known = {
            (path, checksum)
            for path, checksum in con.execute("select path, checksum from raw.ingested_files").fetchall()
        }
        known_paths = {path for path, _ in known}
        next_id = con.execute("select coalesce(max(file_id), 0) + 1 from raw.ingested_files").fetchone()[0]
        todo: list[dict] = []
        for kind, path in discover(landing):
            key = str(path.resolve())
            checksum = _sha256(path)
            if (key, checksum) in known:
                report.skipped_files += 1
                continue
            if key in known_paths:
                report.changed_files.append(key)
            todo.append(
                {
                    "file_id": next_id,
                    "path": key,
                    "kind": kind,
                    "source": _source_of(path, landing / kind),
                    "file_format": path.suffix.lstrip("."),
                    "checksum": checksum,
                    "bytes": path.stat().st_size,
                }
            )
            next_id += 1
        if not todo:
            load_truth(landing, con)
            return report
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute("begin transaction")
        try:
            for kind in KINDS:
                for fmt in ("parquet", "jsonl"):
                    batch = [f for f in todo if f["kind"] == kind and f["file_format"] == fmt]
                    if batch:
                        _insert(con, kind, fmt, batch, loaded_at)
            counts = dict(
                con.execute(
                    "select _file_id, count(*) from (select _file_id from raw.events where _loaded_at = $1 "
                    "union all select _file_id from raw.identifies where _loaded_at = $1) group by 1",
                    [loaded_at],
                ).fetchall()
            )
            for f in todo:
                f["row_count"] = int(counts.get(f["file_id"], 0))
                report.loaded_files[f["kind"]] = report.loaded_files.get(f["kind"], 0) + 1
                report.loaded_rows[f["kind"]] = report.loaded_rows.get(f["kind"], 0) + f["row_count"]
            files = pa.Table.from_pylist(todo)
            con.register("new_files", files)
            con.execute(
                "insert into raw.ingested_files select file_id, path, kind, source, file_format, row_count, "
                "checksum, bytes, $1 from new_files",
                [loaded_at],
            )
            con.unregister("new_files")
            _register_custom_events(con, landing, loaded_at)
            # A simulated landing folder carries its ground truth: loaded for evaluation only, never a feature.
            load_truth(landing, con)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.close()
    return report


def _insert(con: duckdb.DuckDBPyConnection, kind: str, fmt: str, batch: list[dict], loaded_at: datetime) -> None:
    payload = KINDS[kind]
    files = pa.Table.from_pylist([{"path": f["path"], "file_id": f["file_id"], "source": f["source"]} for f in batch])
    con.register("batch_files", files)
    try:
        if fmt == "parquet":
            _check_columns(con, [f["path"] for f in batch], payload)
            source = "read_parquet($paths, filename = true, file_row_number = true, union_by_name = true)"
            select = f"""
                select
                    f.file_id || ':' || r.file_row_number as _row_id,
                    f.file_id, r.file_row_number, f.source, $loaded_at,
                    r."messageId", r."type", {"r.event" if kind == "events" else "null"}, r."userId",
                    r."anonymousId", r."timestamp", r."receivedAt", r."{payload}", r.context,
                    null as raw_line, true as is_parseable,
                    coalesce(strlen(r."{payload}"), 0) + coalesce(strlen(r.context), 0)
                    + coalesce(strlen(r."messageId"), 0) + coalesce(strlen(r."userId"), 0)
                    + coalesce(strlen(r."timestamp"), 0) + 120 as message_bytes
                from {source} as r
                join batch_files as f on f.path = r.filename
            """
            con.execute(
                f"insert into raw.{kind} {select}", {"paths": [f["path"] for f in batch], "loaded_at": loaded_at}
            )
        else:
            lines = _read_lines(batch)
            con.register("batch_lines", lines)
            con.execute(
                f"""
                insert into raw.{kind}
                select
                    l.file_id || ':' || l.row_number, l.file_id, l.row_number, f.source, $loaded_at,
                    case when ok then j->>'messageId' end,
                    case when ok then j->>'type' end,
                    case when ok then j->>'event' end,
                    case when ok then j->>'userId' end,
                    case when ok then j->>'anonymousId' end,
                    case when ok then j->>'timestamp' end,
                    case when ok then j->>'receivedAt' end,
                    case when ok then json_extract(j, '$.{payload}')::varchar end,
                    case when ok then json_extract(j, '$.context')::varchar end,
                    case when not ok then l.line end,
                    ok,
                    strlen(l.line)
                from (select *, json_valid(line) as ok, case when json_valid(line) then line::json end as j
                      from batch_lines) as l
                join batch_files as f on f.file_id = l.file_id
                """,
                {"loaded_at": loaded_at},
            )
            con.unregister("batch_lines")
    finally:
        con.unregister("batch_files")


def _check_columns(con: duckdb.DuckDBPyConnection, paths: list[str], payload: str) -> None:
    """A clear error naming the file, rather than a binder error, when a batch is not Segment-shaped."""
    needed = set(SEGMENT_COLUMNS) | {payload}
    for path in paths:
        names = {row[0] for row in con.execute("select name from parquet_schema($p)", {"p": path}).fetchall()}
        missing = sorted(needed - names)
        if missing:
            raise ValueError(
                f"{path} is missing Segment columns {missing}; land your own export with `pintel ingest` instead"
            )


def _read_lines(batch: list[dict]) -> pa.Table:
    file_ids, rows, lines = [], [], []
    for f in batch:
        text = Path(f["path"]).read_text(encoding="utf-8", errors="replace")
        for i, line in enumerate(text.splitlines()):
            if line.strip():
                file_ids.append(f["file_id"])
                rows.append(i)
                lines.append(line)
    return pa.table({"file_id": file_ids, "row_number": rows, "line": pa.array(lines, pa.string())})


def _register_custom_events(con: duckdb.DuckDBPyConnection, landing: Path, loaded_at: datetime) -> None:
    """Event names a team registered with ``pintel ingest`` (``landing/taxonomy/<source>.json``)."""
    for path in sorted((landing / "taxonomy").glob("*.json")):
        spec = json.loads(path.read_text())
        for name in spec.get("events", []):
            con.execute(
                "insert into raw.custom_events values ($1, $2, $3) on conflict do nothing",
                [spec["source"], name, loaded_at],
            )
