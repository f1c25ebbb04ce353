"""The kill switch from the CLI: audited on and off, and still switchable while a job holds the warehouse."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from pintel.act import kill_switch
from pintel.act.warehouse import open_writer, writer
from pintel.cli import main
from pintel.serve.config import ServeConfig


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)
    path = tmp_path / "pintel.duckdb"
    with writer(path):
        pass
    return path


def test_cli_on_off_status_are_audited(warehouse) -> None:
    runner = CliRunner()
    base = ["--warehouse", str(warehouse)]
    on = runner.invoke(main, ["kill-switch", "on", "--reason", "bad week", "--actor", "carol", *base])
    assert on.exit_code == 0 and "kill switch ON: bad week (by carol" in on.output
    status = runner.invoke(main, ["kill-switch", "status", *base])
    assert "kill switch ON" in status.output and "on  by carol: bad week" in status.output
    off = runner.invoke(main, ["kill-switch", "off", "--reason", "fixed", "--actor", "carol", *base])
    assert off.exit_code == 0 and "kill switch off" in off.output
    missing = runner.invoke(main, ["kill-switch", "on", *base])
    assert missing.exit_code != 0 and "--reason" in missing.output
    con = open_writer(warehouse)
    try:
        assert list(kill_switch.history(con)["state"]) == [False, True]
        assert kill_switch.is_on(con) == (False, "")
    finally:
        con.close()


def test_env_switch_wins_and_says_so(warehouse, monkeypatch) -> None:
    monkeypatch.setenv("PINTEL_KILL_SWITCH", "true")
    con = open_writer(warehouse)
    try:
        assert kill_switch.is_on(con) == (True, "PINTEL_KILL_SWITCH=true in the environment")
    finally:
        con.close()
    off = CliRunner().invoke(main, ["kill-switch", "off", "--reason", "x", "--warehouse", str(warehouse)])
    assert "still on because of the environment" in off.output


def test_switching_on_while_the_warehouse_is_locked(warehouse) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        runner = CliRunner()
        result = runner.invoke(
            main, ["kill-switch", "on", "--reason", "stop now", "--actor", "dana", "--warehouse", str(warehouse)]
        )
        assert result.exit_code == 0 and "via" in result.output and f"PID {holder.pid}" in result.output
        off = runner.invoke(main, ["kill-switch", "off", "--reason", "x", "--warehouse", str(warehouse)])
        assert off.exit_code != 0 and "locked" in off.output
    finally:
        holder.kill()
        holder.wait()
    con = open_writer(warehouse)
    try:
        on, why = kill_switch.is_on(con)
        assert on and "stop now" in why and "dana" in why
        kill_switch.set_state(con, True, actor="dana", reason="audited now")  # the marker becomes an audit row
        assert not kill_switch.marker_path(warehouse).exists()
        assert "marker left" in kill_switch.latest(con)["reason"]
    finally:
        con.close()


def test_serve_config_from_env(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PINTEL_SERVE_HOST", "127.0.0.2")
    monkeypatch.setenv("PINTEL_SERVE_PORT", "8123")
    monkeypatch.setenv("PINTEL_API_TOKEN", "abc")
    monkeypatch.delenv("PINTEL_FLAGS_FILE", raising=False)
    config = ServeConfig.from_env(warehouse=tmp_path / "w.duckdb")
    assert (config.host, config.port, config.api_token) == ("127.0.0.2", 8123, "abc")
    assert config.flags_file == tmp_path / "w.flags.json"
    assert ServeConfig.from_env(warehouse=tmp_path / "w.duckdb", port=9000).port == 9000


def test_summary_sections_on_a_warehouse_without_actions(tmp_path) -> None:
    from pintel.act.summary import actions_lines, actions_markdown
    from pintel.settings import connect

    path = tmp_path / "plain.duckdb"
    connect(path).close()  # a warehouse that never acted: no act tables
    con = connect(path, read_only=True)
    try:
        assert actions_lines(con) == ["actions (last 7 days):", "  kill switch: off"]
        assert "No flag changes in the last 7 days." in actions_markdown(con)
    finally:
        con.close()
