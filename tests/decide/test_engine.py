"""The decision engine on a simulated world: a difference-in-differences rollback for the harmful rollout and
none for the benign one, idempotent appends, the kill switch, a person's change, cooldown and hysteresis."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pintel.act.flag import Flag
from pintel.act.flags import change_flag
from pintel.act.schema import ensure_schema as ensure_act_schema
from pintel.decide import decide, load_decisions
from pintel.decide.candidate import Candidate, Context
from pintel.decide.engine import _guarded
from pintel.decide.guards import History
from pintel.decide.value import success_rates
from pintel.settings import connect

HOURS_AFTER = 48  # the small world has ~10x fewer exposed users per hour than the demo: two days of evidence


@pytest.fixture(autouse=True)
def _no_kill_switch(monkeypatch):
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)


def test_harmful_rollout_is_rolled_back_and_benign_one_is_not(small_warehouse, rollout_starts, policy) -> None:
    con = connect(small_warehouse.warehouse, read_only=True)
    try:
        at = rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER)
        bad = decide(con, policy, at, dry_run=True, sources=["rollouts"]).decisions
        benign = [
            decide(con, policy, rollout_starts["new_sidebar"] + timedelta(hours=h), dry_run=True, sources=["rollouts"])
            for h in range(6, 169, 6)
        ]
    finally:
        con.close()
    rollback = bad[(bad["decision"] == "rollback") & (bad["target"] == "new_editor")]
    assert len(rollback) == 1
    row = rollback.iloc[0]
    assert json.loads(row["payload"]) == {"flag": "new_editor", "state": "off"}
    evidence = json.loads(row["evidence"])
    assert evidence["guardrail"] == "error_shown" and evidence["ratio"] > 1.25
    assert evidence["p_value"] <= evidence["level"] and evidence["unexposed_users"] > 0
    assert row["automatic"] and row["severity"] == "critical" and row["evaluate_after"] > row["as_of"]
    assert "difference-in-differences" in row["rationale"]
    assert not any((r.decisions["decision"] == "rollback").any() for r in benign)


def test_same_inputs_add_no_rows(warehouse, rollout_starts, policy) -> None:
    at = rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER)
    con = connect(warehouse.warehouse)
    try:
        first = decide(con, policy, at)
        again = decide(con, policy, at)
        stored = load_decisions(con)
    finally:
        con.close()
    assert first.added >= 1 and again.added == 0
    assert len(stored) == first.added and stored["idempotency_key"].is_unique
    assert set(again.decisions["decision_id"]) == set(first.decisions["decision_id"])
    assert (stored["decision_id"] == stored["idempotency_key"]).all()
    assert stored["policy_hash"].eq(policy.hash).all() and stored["policy_version"].eq(policy.version).all()


def test_kill_switch_turns_the_rollback_into_monitor(warehouse, rollout_starts, policy, monkeypatch) -> None:
    monkeypatch.setenv("PINTEL_KILL_SWITCH", "1")
    con = connect(warehouse.warehouse)
    try:
        run = decide(con, policy, rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER))
    finally:
        con.close()
    flagged = run.decisions[run.decisions["target"] == "new_editor"]
    assert run.kill_switch and not (run.decisions["decision"].isin(["act", "rollback"])).any()
    assert flagged["decision"].eq("monitor").all() and flagged["kill_switch"].all()
    assert "Kill switch on" in flagged.iloc[0]["rationale"]


def test_a_persons_recent_change_is_not_overridden(warehouse, rollout_starts, policy) -> None:
    con = connect(warehouse.warehouse)
    try:
        ensure_act_schema(con)
        change_flag(con, Flag("new_editor"), actor="alice", reason="ramping by hand")
        run = decide(con, policy, rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER))
    finally:
        con.close()
    row = run.decisions[run.decisions["target"] == "new_editor"].iloc[0]
    assert row["decision"] == "escalate" and not row["automatic"]
    assert "A person changed new_editor" in row["rationale"]


def test_cooldown_and_hysteresis_keep_a_decision_from_flapping(warehouse, rollout_starts, policy) -> None:
    start = rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER)
    con = connect(warehouse.warehouse)
    try:
        decide(con, policy, start, sources=["rollouts"])
        later = [decide(con, policy, start + timedelta(hours=h), sources=["rollouts"]) for h in (1, 2, 12)]
        ctx = Context(con, policy, start + timedelta(hours=3), "passed")
        noise = Candidate(
            "rollout", "new_editor@noise", "rollback_flag", "new_editor", "monitor", "warning", 50, 0.9, "t", "r"
        )
        stepped_down = _guarded(ctx, noise, History(ctx), (False, ""), success_rates(con, policy), start)
        ctx_late = Context(con, policy, start + timedelta(hours=policy.stability.hysteresis_hours + 1), "passed")
        after_window = _guarded(ctx_late, noise, History(ctx_late), (False, ""), success_rates(con, policy), start)
        stored = load_decisions(con)
    finally:
        con.close()
    assert (stored["decision"] == "rollback").sum() == 1  # no second rollback inside the cooldown
    assert all(run.added == 0 for run in later)
    assert stepped_down is None  # hysteresis: no step down to monitor right after the rollback
    assert after_window is not None and after_window["decision"] == "monitor"


def test_a_rollback_that_did_not_end_the_harm_is_escalated_not_repeated(warehouse, rollout_starts, policy) -> None:
    """The world does not react here (no replay), so the harm outlives the rollback: after the cooldown the same
    flag is not rolled back a second time; a person is asked instead, once."""
    start = rollout_starts["new_editor"] + timedelta(hours=HOURS_AFTER)
    after_cooldown = start + timedelta(hours=policy.action("rollback_flag").cooldown_hours + 1)
    con = connect(warehouse.warehouse)
    try:
        decide(con, policy, start, sources=["rollouts"])
        ctx = Context(con, policy, after_cooldown, "passed")
        again = Candidate(
            "rollout", "new_editor@later", "rollback_flag", "new_editor", "rollback", "critical", 50, 0.99, "t", "r"
        )
        row = _guarded(ctx, again, History(ctx), (False, ""), success_rates(con, policy), after_cooldown)
        other = Candidate("rollout", "x@1", "rollback_flag", "new_sidebar", "rollback", "critical", 50, 0.99, "t", "r")
        unrelated = _guarded(ctx, other, History(ctx), (False, ""), success_rates(con, policy), after_cooldown)
        runs = [decide(con, policy, after_cooldown + timedelta(hours=h), sources=["rollouts"]) for h in (0, 6)]
        stored = load_decisions(con)
    finally:
        con.close()
    assert row is not None and row["decision"] == "escalate"
    assert "already decided" in row["rationale"] and "a person decides" in row["rationale"]
    assert unrelated is not None and unrelated["decision"] == "rollback"  # another flag is acted on as usual
    editor = stored[stored["target"] == "new_editor"]
    assert (editor["decision"] == "rollback").sum() == 1
    assert (editor["decision"] == "escalate").sum() <= 1 and runs[1].added == 0
