"""The edges a new user hits first, each with its one-line message: a warehouse another process is writing, a
binary file named .csv, and the --help text that says what happens in both cases (mixed time columns are the
dbt unit test stg_segment__tracks_parses_each_time_value_on_its_own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pintel.cli import main

HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"


@pytest.fixture
def held(tmp_path: Path):
    """A warehouse whose write lock another process holds; yields (path, pid, command line)."""
    warehouse = tmp_path / "wh" / "pintel.duckdb"
    warehouse.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield warehouse, proc.pid, " ".join([sys.executable, "-c", HOLD, str(warehouse)])
    finally:
        proc.kill()
        proc.wait()


def test_a_build_on_a_held_warehouse_names_the_holder(held, tmp_path: Path) -> None:
    warehouse, pid, command = held
    (tmp_path / "landing").mkdir()
    result = CliRunner().invoke(main, ["build", "--warehouse", str(warehouse), "--landing", str(tmp_path / "landing")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: warehouse {warehouse} is held by another writer, process {pid} ({command[:120]}): wait for it to "
        f"finish or stop it (`kill {pid}`), then run again (DuckDB lets one process write the file, and no other "
        "open it meanwhile)\n"
    )
    summary = CliRunner().invoke(main, ["summary", "--warehouse", str(warehouse)])  # a reader is told the same
    assert summary.exit_code == 1 and summary.output.startswith(f"Error: warehouse {warehouse} is held by another")


def test_a_binary_file_named_csv_is_named_in_one_line(tmp_path: Path) -> None:
    export = tmp_path / "events.csv"
    pd.DataFrame({"account": ["a"], "action": ["page_viewed"], "happened_at": ["2025-03-03"]}).to_parquet(export)
    args = ["ingest", str(export), "--user-col", "account", "--event-col", "action", "--time-col", "happened_at"]
    result = CliRunner().invoke(main, [*args, "--landing", str(tmp_path / "landing")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {export}: not a CSV file: it looks like a Parquet file; export it as comma-separated text, or give "
        "it its real extension (one of .csv, .json, .jsonl, .ndjson, .parquet)\n"
    )
    assert not (tmp_path / "landing" / "events").exists() or not any((tmp_path / "landing" / "events").rglob("*.*"))
    export.write_bytes(b"account,action\x00\x01\x02,happened_at\n")
    result = CliRunner().invoke(main, [*args, "--landing", str(tmp_path / "landing")])
    assert result.output.startswith(f"Error: {export}: not a CSV file: it looks like binary data;")


def test_help_says_what_happens_at_the_edges() -> None:
    build = CliRunner().invoke(main, ["build", "--help"]).output
    assert "dbt source freshness" in build and "naming that process's PID" in build
    ingest = " ".join(CliRunner().invoke(main, ["ingest", "--help"]).output.split())
    assert "epoch seconds / milliseconds, mixed freely (each value is parsed on its own" in ingest
    assert "A file named .csv that is not text" in ingest
