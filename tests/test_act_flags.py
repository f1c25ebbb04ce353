"""The flag store: flagd's targeting evaluated like flagd, audited changes, revert, the human override, export."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import mmh3
import pytest
from click.testing import CliRunner

from pintel.act.edit import edited, rollout_targeting
from pintel.act.flag import EvaluationError, Flag, FlagError, evaluate_flag
from pintel.act.flags import (
    automatic_changes_on,
    change_flag,
    export_flagd,
    get_flag,
    history,
    read_document,
    recent_human_change,
    revert,
    serve_variant,
    snapshot_path,
    utcnow,
)
from pintel.act.jsonlogic import TargetingError, bucket, evaluate, validate
from pintel.act.warehouse import WarehouseLocked, open_writer, writer
from pintel.cli import main

ROLLOUT_ANDROID_50 = rollout_targeting(50, {"platform": "android"})


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("PINTEL_FLAGS_FILE", raising=False)
    return tmp_path / "pintel.duckdb"


def test_murmur3_bucketing_is_flagds() -> None:
    # MurmurHash3 x86_32, seed 0 (the reference implementation's test vector), scaled as flagd: hash * total >> 32.
    assert mmh3.hash("hello", 0, signed=False) == 0x248BFA47
    assert bucket("hello", 100) == (0x248BFA47 * 100) >> 32 == 14
    # Default bucketing value: flag key followed by the targeting key.
    rule = {"fractional": [["on", 50], ["off", 50]]}
    data = {"targetingKey": "user-1", "$flagd": {"flagKey": "new_editor"}}
    expected = "on" if bucket("new_editoruser-1", 100) < 50 else "off"
    assert evaluate(rule, data) == expected


def test_rollout_is_stable_and_splits_as_asked() -> None:
    flag = Flag("new_editor", targeting=rollout_targeting(10, {"platform": "android"})).validated()
    users = [f"user-{i}" for i in range(4000)]

    def variants(share_flag: Flag, platform: str) -> Counter:
        return Counter(
            evaluate_flag(share_flag, share_flag.key, {"targetingKey": u, "platform": platform}).variant for u in users
        )

    android_10 = variants(flag, "android")
    assert 0.08 < android_10["on"] / len(users) < 0.12
    assert variants(flag, "ios") == Counter({"off": len(users)})  # other platforms keep the default
    ramped = flag.with_definition({"targeting": rollout_targeting(50, {"platform": "android"})})
    android_50 = variants(ramped, "android")
    assert 0.47 < android_50["on"] / len(users) < 0.53
    # Ramping 10 % -> 50 % keeps everyone who already had it (buckets are nested, not reshuffled).
    had_it = {u for u in users if evaluate_flag(flag, flag.key, {"targetingKey": u, "platform": "android"}).value}
    assert all(evaluate_flag(ramped, ramped.key, {"targetingKey": u, "platform": "android"}).value for u in had_it)


def test_evaluation_reasons_and_errors() -> None:
    flag = Flag("new_editor", targeting=ROLLOUT_ANDROID_50).validated()
    assert evaluate_flag(flag, flag.key, {"targetingKey": "u", "platform": "ios"}).reason == "DEFAULT"
    assert evaluate_flag(flag, flag.key, {"targetingKey": "u", "platform": "android"}).reason == "SPLIT"
    assert evaluate_flag(Flag("plain").validated(), "plain", {}).reason == "STATIC"
    with pytest.raises(EvaluationError) as missing:
        evaluate_flag(flag, flag.key, {"platform": "android"})
    assert missing.value.code == "TARGETING_KEY_MISSING" and missing.value.status == 400
    with pytest.raises(EvaluationError) as absent:
        evaluate_flag(None, "nope", {})
    assert absent.value.code == "FLAG_NOT_FOUND" and absent.value.status == 404
    disabled = flag.with_definition({"state": "DISABLED"})
    with pytest.raises(EvaluationError, match="disabled"):
        evaluate_flag(disabled, flag.key, {"targetingKey": "u"})
    code_default = Flag("cd", default_variant=None).validated()
    result = evaluate_flag(code_default, "cd", {})
    assert not result.has_value and "value" not in result.body()


def test_jsonlogic_operators_and_validation() -> None:
    data = {"email": "ann@example.com", "plan": "pro", "seats": "12", "app": {"version": "2.4.1"}}
    assert evaluate({"ends_with": [{"var": "email"}, "@example.com"]}, data) is True
    assert evaluate({"in": [{"var": "plan"}, ["pro", "team"]]}, data) is True
    assert evaluate({">=": [{"var": "seats"}, 10]}, data) is True
    assert evaluate({"sem_ver": [{"var": "app.version"}, ">=", "2.4.0"]}, data) is True
    assert evaluate({"if": [{"==": [{"var": "plan"}, "free"]}, "a", "b"]}, data) == "b"
    assert evaluate({"and": [True, {"!": {"var": "missing_attr"}}]}, data) is True
    with pytest.raises(TargetingError, match="unknown targeting operator 'nope'"):
        validate({"nope": [1]})
    with pytest.raises(TargetingError, match="non-negative integer"):
        validate({"fractional": [["on", 12.5], ["off", 87.5]]})
    with pytest.raises(FlagError, match="does not define"):
        Flag("f", targeting={"fractional": [["onn", 50], ["off", 50]]}).validated()
    with pytest.raises(FlagError, match="share one JSON type"):
        Flag("f", variants={"on": True, "off": "no"}).validated()


def test_changes_are_audited_and_revertible(warehouse) -> None:
    with writer(warehouse) as con:
        created = change_flag(con, Flag("new_editor", targeting=ROLLOUT_ANDROID_50), actor="alice", reason="ramp")
        assert created.change == "create" and created.before is None
        assert change_flag(con, get_flag(con, "new_editor"), actor="alice", reason="same") is None  # no-op
        flag = get_flag(con, "new_editor")
        rolled = change_flag(
            con,
            serve_variant(flag, "off"),
            actor="decision:abc123",
            reason="bad rollout",
            change="rollback",
            decision_id="abc123",
        )
        assert get_flag(con, "new_editor").targeting is None
        audit = history(con, "new_editor")
        assert list(audit["actor"]) == ["decision:abc123", "alice"]
        assert json.loads(audit.iloc[0]["before"])["targeting"] == ROLLOUT_ANDROID_50
        assert audit.iloc[0]["decision_id"] == "abc123"
        reverted = revert(con, rolled.audit_id, actor="bob", reason="false alarm")
        assert get_flag(con, "new_editor").targeting == ROLLOUT_ANDROID_50
        assert reverted.change == "revert" and history(con).iloc[0]["reverts_audit_id"] == rolled.audit_id
        with pytest.raises(FlagError, match="changed after audit row"):  # the flag moved on since that row
            revert(con, rolled.audit_id, actor="bob", reason="again")
        with pytest.raises(FlagError, match="reserved"):
            change_flag(con, serve_variant(flag, "on"), actor="decision:xyz", reason="posing")
        with pytest.raises(FlagError, match="needs a reason"):
            change_flag(con, serve_variant(flag, "on"), actor="bob", reason=" ")


def test_human_change_window_and_daily_count(warehouse) -> None:
    with writer(warehouse) as con:
        change_flag(con, Flag("f"), actor="alice", reason="create")
        assert recent_human_change(con, "f", 24)
        assert not recent_human_change(con, "other", 24)
        con.execute("update act.feature_flag_audit set changed_at = changed_at - interval 25 hour")
        assert not recent_human_change(con, "f", 24)
        change_flag(con, serve_variant(get_flag(con, "f"), "on"), actor="decision:d1", reason="x", decision_id="d1")
        assert automatic_changes_on(con, utcnow()) == 1
        assert automatic_changes_on(con, utcnow() - timedelta(days=1)) == 0
        assert not recent_human_change(con, "f", 24)  # decisions are not people


def test_snapshot_file_is_a_flagd_document(warehouse) -> None:
    with writer(warehouse) as con:
        change_flag(con, Flag("new_editor", targeting=ROLLOUT_ANDROID_50), actor="alice", reason="ramp")
        change_flag(con, Flag("banner", variants={"a": "blue", "b": "red"}, default_variant="a"), actor="a", reason="r")
        document = export_flagd(con)
    path = snapshot_path(warehouse)
    assert path.exists(), "every change re-exports the snapshot pintel serve reads"
    on_disk = json.loads(path.read_text())
    assert on_disk["flags"] == document["flags"]
    assert document["$schema"] == "https://flagd.dev/schema/v0/flags.json"
    flag = document["flags"]["new_editor"]
    assert set(flag) >= {"state", "variants", "defaultVariant", "targeting"}
    assert flag["targeting"]["if"][1] == {"fractional": [["on", 50], ["off", 50]]}
    assert all(isinstance(v, str | int | float | bool) for v in flag["metadata"].values())
    flags, revision = read_document(path)
    assert revision == 2 and flags["banner"].variants == {"a": "blue", "b": "red"}


def test_writer_names_the_lock_holder(warehouse) -> None:
    import subprocess
    import sys

    with writer(warehouse):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(WarehouseLocked, match=f"PID {holder.pid}"):
            open_writer(warehouse, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()


def test_cli_set_history_revert_export(warehouse, tmp_path) -> None:
    runner = CliRunner()
    base = ["--warehouse", str(warehouse)]
    result = runner.invoke(
        main,
        [
            "flags",
            "set",
            "new_editor",
            "--rollout",
            "50",
            "--where",
            "platform=android",
            "--reason",
            "ramp",
            "--actor",
            "alice",
            *base,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "audit #1" in result.output
    result = runner.invoke(main, ["flags", "set", "new_editor", "--variant", "off", "--reason", "stop", *base])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(main, ["flags", "list", *base])
    assert "new_editor" in listing.output and "default off" in listing.output
    audit = runner.invoke(main, ["flags", "history", "new_editor", *base])
    assert "#2" in audit.output and "by alice: ramp" in audit.output
    result = runner.invoke(main, ["flags", "revert", "2", "--reason", "oops", "--actor", "bob", *base])
    assert result.exit_code == 0, result.output
    out = tmp_path / "flagd.json"
    result = runner.invoke(main, ["flags", "export", "--out", str(out), *base])
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text())["flags"]["new_editor"]
    assert exported["targeting"] == ROLLOUT_ANDROID_50
    bad = runner.invoke(
        main, ["flags", "set", "new_editor", "--where", "platform", "--rollout", "5", "--reason", "x", *base]
    )
    assert bad.exit_code != 0 and "attribute=value" in bad.output
    posing = runner.invoke(main, ["flags", "set", "x", "--actor", "decision:1", "--reason", "x", *base])
    assert posing.exit_code != 0 and "reserved" in posing.output


def test_edit_builder_rules() -> None:
    flag = edited(None, "f", rollout=25, where={"platform": "android", "plan": "pro"})
    assert flag.default_variant == "off"
    assert flag.targeting["if"][0] == {
        "and": [{"==": [{"var": "plan"}, "pro"]}, {"==": [{"var": "platform"}, "android"]}]
    }
    assert edited(flag, "f", variant="on").targeting is None
    with pytest.raises(FlagError, match="only applies with --rollout"):
        edited(flag, "f", where={"platform": "ios"})
    with pytest.raises(FlagError, match="between 0 and 100"):
        edited(flag, "f", rollout=120)
