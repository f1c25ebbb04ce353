"""``pintel ingest``: land a team's own event export (CSV, Parquet or JSON lines) beside the collector's batches.

The export is mapped onto Segment-spec track messages with a column mapping, written as one Parquet batch per
input file under ``landing/events/source=<name>/``, and then loaded and validated like any other batch. Nothing
is filtered here: rows with a missing user or an unparseable time land as they are and are quarantined with a
reason by the warehouse, so every input row is accounted for.

The export's event names become that source's tracking plan (``landing/taxonomy/<source>.json``), unless
``strict_taxonomy`` is set, in which case names missing from the seed taxonomy are quarantined as unknown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pintel.dbt_project import project_var
from pintel.settings import configure

READERS = {
    ".csv": "read_csv($path, header = true, all_varchar = false, sample_size = -1)",
    ".parquet": "read_parquet($path)",
    ".jsonl": "read_json($path, format = 'newline_delimited', sample_size = -1)",
    ".json": "read_json($path, format = 'auto', sample_size = -1)",
    ".ndjson": "read_json($path, format = 'newline_delimited', sample_size = -1)",
}


# What a file that is not text starts with, for naming it in the error (the first match wins).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel/Office file"),
    (b"DUCK", "a DuckDB database"),
)


def check_text(path: Path, sniff: int = 8192) -> None:
    """Refuse a binary file named ``.csv`` in one line naming what it seems to be (DuckDB's CSV sniffer would
    otherwise print a 30-line dump). Text = no NUL byte and valid UTF-8 in the first ``sniff`` bytes."""
    with path.open("rb") as handle:
        head = handle.read(sniff)
    kind = next((name for magic, name in _MAGIC if head.startswith(magic) or head[8:].startswith(magic)), None)
    if kind is None and b"\x00" not in head:
        try:
            head.decode("utf-8")
            return
        except UnicodeDecodeError as error:
            if len(head) == sniff and error.start >= sniff - 3:  # a character cut by the sniff window
                return
    what = kind or "binary data"
    raise ValueError(
        f"{path}: not a CSV file: it looks like {what}; export it as comma-separated text, "
        f"or give it its real extension (one of {', '.join(sorted(READERS))})"
    )


@dataclass(frozen=True)
class ColumnMapping:
    user: str
    event: str
    time: str
    properties: str | None = None
    message_id: str | None = None


@dataclass
class IngestReport:
    source: str
    files: list[Path]
    rows: int
    events: list[str]


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in READERS:
            raise ValueError(f"{path}: unsupported file type; expected one of {sorted(READERS)}")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READERS)
        if not files:
            raise ValueError(f"{path}: no CSV, Parquet or JSON lines files found")
        return files
    raise FileNotFoundError(f"{path} does not exist")


def _time_expression(column_type: str, column: str) -> str:
    """ISO 8601 text for any time column: timestamps, dates, epoch seconds or milliseconds, or text as is."""
    quoted = f'"{column}"'
    upper = column_type.upper()
    millis = int(project_var("epoch_milliseconds_above"))
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        return f"strftime(cast({quoted} as timestamp), '%Y-%m-%dT%H:%M:%S.%gZ')"
    if any(upper.startswith(t) for t in ("BIGINT", "INTEGER", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "UBIGINT")):
        return (
            f"strftime(case when abs({quoted}) >= {millis} then epoch_ms(cast({quoted} as bigint)) "
            f"else to_timestamp(cast({quoted} as double)) end, '%Y-%m-%dT%H:%M:%S.%gZ')"
        )
    return f"cast({quoted} as varchar)"


def ingest(
    path: str | Path, landing: str | Path, mapping: ColumnMapping, source: str = "custom", strict_taxonomy: bool = False
) -> IngestReport:
    """Map ``path`` (a file or a folder) onto Segment messages and write them to the landing folder."""
    if not source.replace("_", "").replace("-", "").isalnum():
        raise ValueError("--source must be letters, digits, '-' or '_'")
    landing = Path(landing)
    out_dir = landing / "events" / f"source={source}"
    out_dir.mkdir(parents=True, exist_ok=True)
    received = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    con = configure(duckdb.connect())
    written: list[Path] = []
    total = 0
    names: set[str] = set()
    try:
        for file in _files(Path(path)):
            reader = READERS[file.suffix.lower()]
            if file.suffix.lower() == ".csv":
                check_text(file)
            relation = con.sql(f"select * from {reader}", params={"path": str(file)})
            types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
            wanted = [
                c for c in (mapping.user, mapping.event, mapping.time, mapping.properties, mapping.message_id) if c
            ]
            missing = [c for c in wanted if c not in types]
            if missing:
                raise ValueError(f"{file}: column(s) {missing} not found; the file has {list(types)}")
            rest = [c for c in types if c not in wanted]
            if mapping.properties:
                prop = mapping.properties
                props = (
                    f'cast("{prop}" as varchar)'
                    if types[prop].upper() in {"VARCHAR", "JSON"}
                    else f'cast(to_json("{prop}") as varchar)'
                )
            elif rest:
                props = "cast(to_json({" + ", ".join(f"'{c}': \"{c}\"" for c in rest) + "}) as varchar)"
            else:
                props = "'{}'"
            digest = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
            message_id = (
                f'cast("{mapping.message_id}" as varchar)'
                if mapping.message_id
                else f"'{source}-{digest}-' || cast(row_number() over () as varchar)"
            )
            target = out_dir / f"{file.stem}-{digest}.parquet"
            query = f"""
                select
                    {message_id} as "messageId",
                    'track' as "type",
                    cast("{mapping.event}" as varchar) as "event",
                    cast("{mapping.user}" as varchar) as "userId",
                    cast(null as varchar) as "anonymousId",
                    {_time_expression(types[mapping.time], mapping.time)} as "timestamp",
                    '{received}' as "receivedAt",
                    {props} as "properties",
                    '{{}}' as "context"
                from {reader}
            """
            con.execute(f"copy ({query}) to '{target}' (format parquet)", {"path": str(file)})
            rows = con.execute("select count(*) from read_parquet($p)", {"p": str(target)}).fetchone()[0]
            names |= {
                r[0]
                for r in con.execute(
                    "select distinct event from read_parquet($p) where event is not null", {"p": str(target)}
                ).fetchall()
            }
            written.append(target)
            total += rows
    finally:
        con.close()
    if not strict_taxonomy:
        _register(landing, source, names)
    return IngestReport(source=source, files=written, rows=total, events=sorted(names))


def _register(landing: Path, source: str, names: set[str]) -> None:
    path = landing / "taxonomy" / f"{source}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = set(json.loads(path.read_text())["events"]) if path.exists() else set()
    path.write_text(json.dumps({"source": source, "events": sorted(existing | names)}, indent=2) + "\n")
