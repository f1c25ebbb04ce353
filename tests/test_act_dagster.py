"""The ``act/actions`` Dagster asset delivers the decisions once (re-materialising adds nothing), says in its
metadata whether the kill switch is on, and the Slack token appears nowhere a run writes: logs, Dagster events and
asset metadata, the warehouse file, reports/."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from dagster_defs.actions import actions
from dagster_defs.resources import PintelResource
from pintel.act.edit import rollout_targeting
from pintel.act.flag import Flag
from pintel.act.flags import change_flag, get_flag, utcnow
from pintel.act.warehouse import writer
from pintel.settings import connect
from tests.support.decisions import POLICY, decision, write_decisions
from tests.support.fake_slack import FakeSlack

NOW = utcnow()
ROLLBACK = decision(created_at=NOW)
MONITOR = decision(source_id="exp", decision="monitor", action_type="notify_incident", severity="info", created_at=NOW)
OLD = decision(source_id="last-month", created_at=NOW - timedelta(days=30))  # outside the lookback: never sent late


@pytest.fixture
def env(tmp_path, monkeypatch):
    token = f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(12)}"
    fake = FakeSlack.start(token)
    warehouse = tmp_path / "data" / "pintel.duckdb"
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump(POLICY))
    for name, value in {
        "PINTEL_SLACK_BOT_TOKEN": token,
        "PINTEL_SLACK_BASE_URL": fake.url,
        "PINTEL_WAREHOUSE": str(warehouse),
        "PINTEL_REPORTS": str(tmp_path / "reports"),
        "PINTEL_POLICY": str(policy),
        "PINTEL_DAGSTER_URL": "http://127.0.0.1:3000",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)
    monkeypatch.delenv("PINTEL_FLAGS_FILE", raising=False)
    with writer(warehouse) as con:
        change_flag(
            con,
            Flag("new_editor", targeting=rollout_targeting(50, {"platform": "android"})),
            actor="alice",
            reason="ramp",
        )
        con.execute("update act.feature_flag_audit set changed_at = changed_at - interval 3 day")
        write_decisions(con, [ROLLBACK, MONITOR, OLD])
    yield {"token": token, "fake": fake, "warehouse": warehouse, "tmp": tmp_path}
    fake.close()


def _flag(warehouse: Path) -> Flag:
    con = connect(warehouse, read_only=True)
    try:
        return get_flag(con, "new_editor")
    finally:
        con.close()


def _materialize() -> dg.ExecuteInProcessResult:
    return dg.materialize([actions], resources={"pintel": PintelResource()})


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    events = result.asset_materializations_for_node("act__actions")
    return {k: v.value for k, v in events[-1].metadata.items()}


def test_actions_asset_delivers_once_and_never_leaks_the_token(env) -> None:
    token, fake = env["token"], env["fake"]
    fake.script("chat.postMessage", "rate_limit", "error_500", "drop")
    log_file = env["tmp"] / "run.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        first = _materialize()
        second = _materialize()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert first.success and second.success
    meta = _metadata(first)
    assert meta["messages_sent"] == 3 and meta["flag_changes"] == 1 and meta["kill_switch"] == "off"
    assert "Switched flag new_editor" in meta["deliveries"] and meta["decisions_considered"] == 2
    assert _metadata(second)["messages_sent"] == 0 and _metadata(second)["messages_already_delivered"] == 3
    assert all(n == 1 for n in fake.posts_per_key().values()) and len(fake.posts_per_key()) == 3
    checks = [e for e in first.get_asset_check_evaluations() if e.check_name == "actions_delivered"]
    assert checks and checks[0].passed
    assert _flag(env["warehouse"]).default_variant == "off"
    posted = json.dumps(fake.posted()[0]["blocks"])
    assert "http://127.0.0.1:3000/assets/decide/decisions" in posted

    # The token was really used and really logged around ...
    assert all(r.authorization == f"Bearer {token}" for r in fake.requests)
    log_text = log_file.read_text()
    assert "chat.postMessage" in log_text, "debug logging of the Slack client was captured"
    # ... and appears nowhere a run writes.
    outputs: dict[str, str] = {"log": log_text}
    for i, result in enumerate((first, second)):
        outputs[f"events-{i}"] = "\n".join(repr(e) for e in result.all_events)
        outputs[f"metadata-{i}"] = repr(_metadata(result))
    reports = env["tmp"] / "reports"
    assert (reports / "actions.md").exists()
    for path in reports.rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_text(errors="replace")
    dump = env["tmp"] / "dump"
    con = connect(env["warehouse"])
    con.execute(f"export database '{dump}' (format csv)")
    con.close()
    for path in dump.rglob("*"):
        outputs[str(path)] = path.read_text(errors="replace")
    for path in env["warehouse"].parent.iterdir():  # the DuckDB file, its WAL, the flag snapshot
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("latin-1")
    assert len(outputs) > 8
    leaks = [name for name, text in outputs.items() if token in text or token.split("-")[-1] in text]
    assert not leaks, f"the Slack token leaked into {leaks}"


def test_actions_asset_with_kill_switch_and_dry_run(env, monkeypatch) -> None:
    monkeypatch.setenv("PINTEL_KILL_SWITCH", "1")
    monkeypatch.delenv("PINTEL_SLACK_BOT_TOKEN")
    result = _materialize()
    meta = _metadata(result)
    assert meta["kill_switch"].startswith("ON") and meta["dry_run"] is True
    assert meta["flag_changes"] == 0 and meta["messages_dry_run"] == 3
    assert not env["fake"].requests
    summary = Path(meta["summary"]).read_text()
    assert "Kill switch: ON" in summary and "Dry run" in summary
    assert _flag(env["warehouse"]).targeting is not None


def test_actions_asset_fails_on_an_invalid_policy_before_acting(env, monkeypatch) -> None:
    bad = env["tmp"] / "bad.yml"
    bad.write_text(yaml.safe_dump({"routing": {"info": "#a"}}))
    monkeypatch.setenv("PINTEL_POLICY", str(bad))
    with pytest.raises(Exception, match="routing"):
        _materialize()
    assert not env["fake"].requests
    assert _flag(env["warehouse"]).targeting is not None
