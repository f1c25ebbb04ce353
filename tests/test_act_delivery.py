"""Delivery against a Slack-compatible server on 127.0.0.1 with the real slack_sdk client: every message lands
exactly once whatever the server does, a crash between send and record never double-posts, re-runs add nothing,
and the kill switch, a failed quality gate, a person's recent change and the daily cap all stop flag changes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections import Counter

import pytest
from slack_sdk import WebClient

from pintel.act import deliver, deliver_outcomes, kill_switch
from pintel.act.edit import rollout_targeting
from pintel.act.flag import Flag
from pintel.act.flags import change_flag, get_flag, history
from pintel.act.outbox import frame
from pintel.act.policy import DeliveryPolicy, PolicyError
from pintel.act.slack import Messenger
from pintel.act.summary import actions_markdown
from pintel.act.warehouse import open_writer
from pintel.settings import REPO_ROOT
from tests.support.crash_delivery import CRASH_CODE
from tests.support.decisions import POLICY, decision, read_decisions, write_decisions
from tests.support.fake_slack import FakeSlack

ROLLOUT = rollout_targeting(50, {"platform": "android"})
ROLLBACK = decision()  # critical: routed to two channels
MONITOR = decision(
    source="experiment",
    source_id="pricing_page_v2",
    decision="monitor",
    action_type="notify_incident",
    target="pricing_page_v2",
    severity="info",
    title="pricing_page_v2 is still collecting data",
    payload=json.dumps({}),
)
KEYS = {
    f"{ROLLBACK['decision_id']}:#product-alerts",
    f"{ROLLBACK['decision_id']}:C0ONCALL1",
    f"{MONITOR['decision_id']}:#product-updates",
}


@pytest.fixture
def token(monkeypatch) -> str:
    value = f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(10)}"
    monkeypatch.setenv("PINTEL_SLACK_BOT_TOKEN", value)
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)
    return value


@pytest.fixture
def fake(token):
    server = FakeSlack.start(token, hang_seconds=4.0)
    yield server
    server.close()


@pytest.fixture
def con(tmp_path):
    connection = open_writer(tmp_path / "pintel.duckdb")
    change_flag(connection, Flag("new_editor", targeting=ROLLOUT), actor="alice", reason="ramp to 50% of android")
    connection.execute("update act.feature_flag_audit set changed_at = changed_at - interval 3 day")  # not recent
    yield connection
    connection.close()


def _messenger(fake: FakeSlack, token: str) -> Messenger:
    return Messenger(WebClient(token=token, base_url=fake.url, timeout=2), backoff=0.05)


def _run(con, fake, token, rows, policy=POLICY):
    write_decisions(con, rows)
    return deliver(con, read_decisions(con), policy, _messenger(fake, token))


REFUSED = {"rate_limit", "error_500", "drop_unposted", "hang_unposted"}  # nothing posted: a retry must follow


@pytest.mark.parametrize(
    "behaviour",
    ["ok", "rate_limit", "error_500", "error_500_posted", "hang", "hang_unposted", "drop", "drop_unposted"],
)
def test_each_message_lands_exactly_once(con, fake, token, behaviour) -> None:
    fake.script("chat.postMessage", behaviour)
    report = _run(con, fake, token, [ROLLBACK, MONITOR])
    assert fake.posts_per_key() == Counter(dict.fromkeys(KEYS, 1)), fake.requests
    first_key = fake.post_requests()[0].params["metadata"]["event_payload"]["idempotency_key"]
    requests = Counter(r.params["metadata"]["event_payload"]["idempotency_key"] for r in fake.post_requests())
    assert requests[first_key] == (2 if behaviour in REFUSED else 1), "retried only when nothing was posted"
    if behaviour == "rate_limit":
        assert fake.requests[[r.behaviour for r in fake.requests].index("rate_limit")].status == 429
    rows = frame(con).set_index("idempotency_key")
    assert set(rows.index) == KEYS and set(rows["state"]) == {"sent"}
    posted_ts = {m["metadata"]["event_payload"]["idempotency_key"]: m["ts"] for m in fake.posted()}
    assert rows["message_ts"].to_dict() == posted_ts
    assert report.counts()["messages_sent"] == 3 and report.counts()["flag_changes"] == 1
    # A full re-run: nothing new reaches Slack or the flag store.
    before = len(fake.post_requests())
    again = deliver(con, read_decisions(con), POLICY, _messenger(fake, token))
    assert len(fake.post_requests()) == before
    assert again.counts()["messages_sent"] == 0 and again.counts()["messages_already_delivered"] == 3
    assert again.counts()["flag_changes"] == 0 and len(history(con, "new_editor")) == 2


@pytest.mark.parametrize("when", ["after", "before"])
def test_crash_between_send_and_record_never_double_posts(tmp_path, con, fake, token, when) -> None:
    write_decisions(con, [ROLLBACK, MONITOR])
    warehouse = tmp_path / "pintel.duckdb"
    con.close()
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_delivery",
            "--warehouse",
            str(warehouse),
            "--base-url",
            fake.url,
            "--when",
            when,
        ],
        env={**os.environ},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == CRASH_CODE, crashed.stderr
    con = open_writer(warehouse)
    try:
        left = frame(con)
        assert list(left["state"]) == ["pending"], "the item was recorded before the send"
        assert len(fake.posted()) == (1 if when == "after" else 0)
        report = deliver(con, read_decisions(con), POLICY, _messenger(fake, token))
        assert fake.posts_per_key() == Counter(dict.fromkeys(KEYS, 1))
        assert len(fake.post_requests()) == 3, "the crashed item was found in the channel history, not re-sent"
        assert set(frame(con)["state"]) == {"sent"} and report.counts()["flag_changes"] == 0  # done before crash
        assert any(r.method == "conversations.history" for r in fake.requests)
    finally:
        con.close()


def test_dry_run_without_token_stores_block_kit_and_still_rolls_back(con, monkeypatch) -> None:
    monkeypatch.delenv("PINTEL_SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)
    write_decisions(con, [ROLLBACK])
    report = deliver(con, read_decisions(con), POLICY)
    assert report.dry_run and report.counts()["messages_dry_run"] == 2
    rows = frame(con)
    assert set(rows["state"]) == {"dry_run"}
    message = json.loads(rows.iloc[0]["message"])
    assert message["blocks"][0]["type"] == "header" and message["text"].startswith("[rollback]")
    assert message["metadata"]["event_payload"]["idempotency_key"] in rows["idempotency_key"].tolist()
    assert get_flag(con, "new_editor").default_variant == "off" and get_flag(con, "new_editor").targeting is None
    digest = actions_markdown(con)
    assert "Dry run" in digest and '"type": "header"' in digest and "pintel flags revert" in digest
    assert deliver(con, read_decisions(con), POLICY).counts()["messages_dry_run"] == 0  # idempotent too


@pytest.mark.parametrize("how", ["env", "cli"])
def test_kill_switch_turns_actions_into_monitor_messages(con, fake, token, monkeypatch, how) -> None:
    if how == "env":
        monkeypatch.setenv("PINTEL_KILL_SWITCH", "1")
    else:
        kill_switch.set_state(con, True, actor="carol", reason="incident review")
    ship = decision(
        source_id="exp-1",
        decision="act",
        action_type="ship_flag",
        target="new_editor",
        severity="warning",
        payload=json.dumps({"flag": "new_editor", "state": "on"}),
    )
    report = _run(con, fake, token, [ROLLBACK, ship, MONITOR])
    assert get_flag(con, "new_editor").targeting == ROLLOUT, "no flag changed"
    assert len(history(con, "new_editor")) == 1
    assert report.kill_switch and report.counts()["flag_changes"] == 0
    decisions = [m["metadata"]["event_payload"]["decision"] for m in fake.posted()]
    assert decisions and set(decisions) == {"monitor"}
    acted = [m for m in fake.posted() if m["metadata"]["event_payload"]["decision_id"] != MONITOR["decision_id"]]
    assert acted and all("kill switch on" in m["text"].lower() for m in acted)
    assert all(m["metadata"]["event_payload"]["kill_switch"] for m in acted)
    expected = "PINTEL_KILL_SWITCH=1" if how == "env" else "incident review (by carol"
    assert expected in report.kill_switch_reason
    if how == "cli":
        kill_switch.set_state(con, False, actor="carol", reason="done")
        assert kill_switch.is_on(con) == (False, "")


def test_engine_switched_decision_says_so(con, fake, token) -> None:
    switched = decision(decision="monitor", kill_switch=True)
    _run(con, fake, token, [switched])
    assert get_flag(con, "new_editor").targeting == ROLLOUT
    assert all("Kill switch is on" in json.dumps(m["blocks"]) for m in fake.posted())


def test_failed_quality_gate_delivers_only_the_data_quality_alert(con, fake, token) -> None:
    failed = decision(data_quality_status="failed")
    alert = decision(
        source="data_quality",
        source_id="fct_events",
        decision="escalate",
        action_type="escalate",
        target="data-oncall",
        severity="critical",
        data_quality_status="failed",
        title="fct_events failed its critical checks",
        payload=json.dumps({}),
    )
    report = _run(con, fake, token, [failed, alert])
    assert get_flag(con, "new_editor").targeting == ROLLOUT and report.counts()["flag_changes"] == 0
    ids = {m["metadata"]["event_payload"]["decision_id"] for m in fake.posted()}
    assert ids == {alert["decision_id"]}
    assert [s["decision_id"] for s in report.skipped] == [failed["decision_id"]]


def test_recent_human_change_blocks_automatic_change(con, fake, token) -> None:
    change_flag(
        con,
        Flag("new_editor", targeting=rollout_targeting(10, {"platform": "android"})),
        actor="dana",
        reason="back to 10%",
    )
    _run(con, fake, token, [ROLLBACK])
    assert get_flag(con, "new_editor").updated_by == "dana"
    text = " ".join(m["text"] for m in fake.posted())
    assert "dana changed new_editor" in text and "24 h" in text


def test_daily_cap_and_manual_only_actions(con, fake, token) -> None:
    change_flag(con, Flag("dark_mode", targeting=ROLLOUT), actor="alice", reason="ramp")
    change_flag(con, Flag("big_export", targeting=ROLLOUT), actor="alice", reason="ramp")
    con.execute("update act.feature_flag_audit set changed_at = changed_at - interval 3 day")
    second = decision(source_id="inc-2", target="dark_mode", payload=json.dumps({"flag": "dark_mode"}))
    manual = decision(
        source_id="inc-3", target="big_export", automatic=False, payload=json.dumps({"flag": "big_export"})
    )
    report = _run(con, fake, token, [ROLLBACK, second, manual], policy={**POLICY, "max_automatic_actions_per_day": 1})
    changed = {c["flag"] for c in report.flag_changes if c["new"]}
    assert len(changed) == 1
    capped = (changed ^ {"new_editor", "dark_mode"}).pop()
    assert get_flag(con, capped).targeting == ROLLOUT
    assert get_flag(con, "big_export").targeting == ROLLOUT
    notes = {c["flag"]: c["note"] for c in report.flag_changes}
    assert "cap of 1" in notes[capped] and "Needs a person" in notes["big_export"]


def test_outcome_is_a_thread_reply_to_the_original(con, fake, token) -> None:
    _run(con, fake, token, [ROLLBACK])
    parents = {m["metadata"]["event_payload"]["idempotency_key"]: m["ts"] for m in fake.posted()}
    outcome = {
        "decision_id": ROLLBACK["decision_id"],
        "verdict": "worked",
        "summary": "report_created recovered",
        "effect": 0.27,
        "ci_low": 0.18,
        "ci_high": 0.36,
    }
    report = deliver_outcomes(con, [outcome], _messenger(fake, token))
    replies = [m for m in fake.posted() if m.get("thread_ts")]
    assert len(replies) == 2 and report.counts()["messages_sent"] == 2
    assert {r["thread_ts"] for r in replies} == set(parents.values())
    assert all("Outcome: worked" in r["text"] for r in replies)
    assert deliver_outcomes(con, [outcome], _messenger(fake, token)).counts()["messages_sent"] == 0


def test_unknown_channel_fails_clearly_then_recovers(con, fake, token) -> None:
    policy = {**POLICY, "routing": {**POLICY["routing"], "critical": "#war-room"}}
    report = _run(con, fake, token, [ROLLBACK], policy=policy)
    assert report.counts()["messages_failed"] == 1
    assert "#war-room not found" in frame(con).iloc[0]["error"]
    fake.channels["war-room"] = "C0WARROOM1"
    again = deliver(con, read_decisions(con), policy, _messenger(fake, token))
    assert again.counts()["messages_sent"] == 1 and fake.posts_per_key() == Counter(
        {f"{ROLLBACK['decision_id']}:#war-room": 1}
    )


def test_policy_without_routing_fails_by_name() -> None:
    with pytest.raises(PolicyError, match="routing"):
        DeliveryPolicy.of({"routing": {"info": "#a", "warning": "#b"}})
    assert DeliveryPolicy.of(POLICY).channels("critical") == ["#product-alerts", "C0ONCALL1"]
