"""Settings is the one home of paths and env; the dbt project's vars have one Python reader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from pintel.build import dbt_command
from pintel.dbt_project import DBT_PROJECT_DIR, REPO_ROOT, parse_vars, project_var, project_vars
from pintel.settings import (
    DUCKDB_VARS,
    REPORTS_VAR,
    TEMP_DIRECTORY_VAR,
    WAREHOUSE_VAR,
    DuckDBResources,
    Settings,
    connect,
)


def test_project_vars_are_the_dbt_project_file_with_overrides_on_top(tmp_path: Path) -> None:
    declared = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert project_vars() == declared
    assert project_var("future_tolerance_minutes", {"future_tolerance_minutes": 5}) == 5
    (tmp_path / "dbt_project.yml").write_text(
        "name: acme\nvars:\n  horizon: 30\n  templated: \"{{ env_var('X') }}\"\n  acme:\n    horizon: 14\n"
    )
    assert project_var("horizon", project_dir=tmp_path) == 14  # scoped to the project wins, as in dbt
    with pytest.raises(KeyError, match="not declared"):
        project_var("nope", project_dir=tmp_path)
    with pytest.raises(ValueError, match="Jinja"):
        project_var("templated", project_dir=tmp_path)


def test_vars_text_is_parsed_like_dbt_and_bad_text_is_named() -> None:
    assert parse_vars('{"a": 1}') == {"a": 1} == parse_vars("{a: 1}")
    assert parse_vars("") == {} == parse_vars(None)
    with pytest.raises(ValueError, match="mapping"):
        parse_vars("[1, 2]")
    with pytest.raises(ValueError, match="not valid"):
        parse_vars("{a: [")


def test_settings_read_the_environment_and_explicit_values_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PINTEL_WAREHOUSE", str(tmp_path / "env.duckdb"))
    monkeypatch.setenv("PINTEL_DBT_VARS", "{churn_horizon_days: 14}")
    monkeypatch.setenv("PINTEL_EXPECTATIONS_DIR", str(tmp_path / "gx"))
    settings = Settings.from_env()
    assert settings.warehouse == tmp_path / "env.duckdb"
    assert settings.dbt_vars == {"churn_horizon_days": 14}
    assert settings.project_vars()["churn_horizon_days"] == 14
    assert settings.expectations == tmp_path / "gx"
    explicit = Settings.from_env(warehouse=tmp_path / "x.duckdb", dbt_vars="{a: 1}")
    assert explicit.warehouse == tmp_path / "x.duckdb" and explicit.dbt_vars == {"a": 1}
    monkeypatch.setenv("PINTEL_DBT_VARS", "not: [valid")
    with pytest.raises(ValueError, match="not valid"):
        Settings.from_env()


def test_dbt_gets_paths_and_vars_on_its_command_line(tmp_path: Path) -> None:
    settings = Settings.from_env(warehouse=tmp_path / "w.duckdb", reports=tmp_path / "r", dbt_vars="{a: 1, b: 2}")
    command = dbt_command(settings, ["build", "--vars", "{b: 3}", "--select", "fct_events"])
    assert command.count("--vars") == 1  # dbt keeps only the last --vars: the caller's are merged, not dropped
    passed = json.loads(command[command.index("--vars") + 1])
    duckdb_vars = {var: passed.pop(var) for var in DUCKDB_VARS.values()}
    assert passed == {"a": 1, "b": 3, WAREHOUSE_VAR: str(tmp_path / "w.duckdb"), REPORTS_VAR: str(tmp_path / "r")}
    limits = settings.duckdb
    assert duckdb_vars == {
        DUCKDB_VARS["memory_limit"]: limits.memory_limit,
        DUCKDB_VARS["threads"]: limits.threads,
    }
    assert command[command.index("--target") + 1] == settings.dbt_target
    assert command[:3] == ["build", "--select", "fct_events"]


def test_no_module_writes_the_environment() -> None:
    """Settings is read from the environment in one place, and nothing writes it (dbt gets explicit vars)."""
    writes = re.compile(r"os\.environ\s*\[[^]]+\]\s*=|os\.environ\.(update|setdefault|pop)\(|os\.putenv\(")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for folder in ("pintel", "dagster_defs", "dbt_project/models")
        for path in (REPO_ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert offenders == []


def test_duckdb_limits_come_from_the_environment_and_reach_every_connection(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PINTEL_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("PINTEL_DUCKDB_THREADS", "1")
    monkeypatch.setenv("PINTEL_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    settings = Settings.from_env(warehouse=tmp_path / "w.duckdb")
    assert settings.duckdb == DuckDBResources("512MB", 1, tmp_path / "spill")
    passed = settings.dbt_vars_for_run()
    assert passed[DUCKDB_VARS["memory_limit"]] == "512MB" and passed[TEMP_DIRECTORY_VAR] == str(tmp_path / "spill")
    con = connect(settings.warehouse)
    try:
        memory, threads, temp = con.sql(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchone()
    finally:
        con.close()
    assert memory in {"488.2 MiB", "512.0 MB"} and threads == 1 and temp == str(tmp_path / "spill")
    monkeypatch.delenv("PINTEL_DUCKDB_TEMP_DIRECTORY")
    # unset: DuckDB's own spill folder beside the file; dbt is not told to set one
    unset = Settings.from_env(warehouse=tmp_path / "w.duckdb")
    assert TEMP_DIRECTORY_VAR not in unset.dbt_vars_for_run()
    con = connect(unset.warehouse, resources=unset.duckdb)
    try:
        assert con.sql("select current_setting('temp_directory')").fetchone()[0] == f"{tmp_path / 'w.duckdb'}.tmp"
    finally:
        con.close()


def test_a_database_that_spilled_can_be_opened_again(tmp_path: Path) -> None:
    """DuckDB refuses any SET of temp_directory after a spill, even to the same folder (it broke a 10M build)."""
    limits = DuckDBResources("64MB", 1, tmp_path / "spill")
    first = connect(tmp_path / "w.duckdb", resources=limits)
    first.execute("set preserve_insertion_order = false")
    first.execute("create table t as select range as i, random() as r from range(3000000)")
    first.execute("create table s as select * from t order by r")  # a sort larger than 64 MB spills
    with pytest.raises(duckdb.NotImplementedException, match="temporary directory"):
        first.execute(f"set temp_directory = '{tmp_path / 'spill'}'")  # the refusal this guards against
    second = connect(tmp_path / "w.duckdb", resources=limits)  # same process, same open database
    try:
        assert second.sql("select current_setting('temp_directory')").fetchone()[0] == str(tmp_path / "spill")
    finally:
        second.close()
        first.close()
