"""Delivery: turn decision rows into flag changes and Slack messages, exactly once, under the kill switch.

Order per decision: first the flag change it calls for (when it is automatic, data quality passed, no person
changed the flag within the policy's window, the daily cap allows and the kill switch is off), then one message
per routed channel saying what happened and what pintel did. Both steps are keyed — the flag change by the audit
row naming the decision, the message by its outbox key — so re-running delivery adds nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from slack_sdk import WebClient

from pintel.act import outbox
from pintel.act.flag import FlagError
from pintel.act.flags import (
    automatic_changes_on,
    change_flag,
    decision_change,
    get_flag,
    last_human_change,
    serve_variant,
    utcnow,
)
from pintel.act.kill_switch import is_on
from pintel.act.messages import Delivery, render_decision, render_outcome
from pintel.act.policy import DeliveryPolicy
from pintel.act.redact import redact
from pintel.act.slack import DeliveryError, Messenger, slack_client

ACTING = ("act", "rollback")
FLAG_ACTIONS = {"rollback_flag": ("off", False, "rollback"), "ship_flag": ("on", True, "ship")}


@dataclass
class DeliveryReport:
    """What one delivery run did; ``new_*`` counts are zero on a re-run with the same decisions."""

    dry_run: bool
    kill_switch: bool
    kill_switch_reason: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    flag_changes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        new = [m for m in self.messages if m["new"]]
        return {
            "messages_sent": sum(m["state"] == "sent" for m in new),
            "messages_dry_run": sum(m["state"] == "dry_run" for m in new),
            "messages_failed": sum(m["state"] == "failed" for m in self.messages),
            "messages_already_delivered": sum(
                not m["new"] and m["state"] in outbox.FINAL_STATES for m in self.messages
            ),
            "flag_changes": sum(c["new"] for c in self.flag_changes),
            "skipped": len(self.skipped),
        }

    def table(self) -> pd.DataFrame:
        columns = ["decision_id", "channel", "delivered_decision", "state", "new", "ts", "error"]
        return pd.DataFrame(self.messages, columns=columns)

    def markdown(self) -> str:
        counts = self.counts()
        lines = [
            f"**Kill switch: {'ON — ' + self.kill_switch_reason if self.kill_switch else 'off'}**"
            + (" · dry run (no Slack token)" if self.dry_run else ""),
            "",
            " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()),
        ]
        for change in self.flag_changes:
            lines.append(f"- flag `{change['flag']}`: {change['note']}")
        for skip in self.skipped:
            lines.append(f"- skipped {skip['decision_id']}: {skip['reason']}")
        if self.messages:
            lines += ["", "| decision | channel | delivered as | state | ts / error |", "|---|---|---|---|---|"]
            for m in self.messages:
                lines.append(
                    f"| {m['decision_id']} | {m['channel']} | {m['delivered_decision']} | {m['state']} | "
                    f"{m.get('ts') or redact(m.get('error') or '')} |"
                )
        return "\n".join(lines)


def _records(decisions: pd.DataFrame | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = decisions.to_dict("records") if isinstance(decisions, pd.DataFrame) else [dict(r) for r in decisions]
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    return sorted(clean, key=lambda r: (str(r.get("created_at")), str(r.get("decision_id"))))


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("payload")
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _messenger(client: WebClient | Messenger | None) -> Messenger | None:
    if isinstance(client, Messenger):
        return client
    client = client if client is not None else slack_client()
    return Messenger(client) if client is not None else None


class _Run:
    def __init__(self, con: Any, policy: DeliveryPolicy, messenger: Messenger | None, now: datetime) -> None:
        self.con, self.policy, self.messenger, self.now = con, policy, messenger, now
        on, reason = is_on(con, policy.kill_switch_env)
        self.report = DeliveryReport(dry_run=messenger is None, kill_switch=on, kill_switch_reason=reason)

    # --- flags ------------------------------------------------------------------------------------------------

    def flag_action(self, row: dict[str, Any], decision: str) -> str:
        """Apply the flag change a decision calls for, or say why not; returns the sentence for the message."""
        action = FLAG_ACTIONS.get(str(row.get("action_type")))
        if action is None:
            return self._note_without_flag(row, decision)
        payload = _payload(row)
        key = str(payload.get("flag") or row.get("target"))
        done = decision_change(self.con, str(row["decision_id"]))
        if done is not None:
            return self._record(row, key, done["audit_id"], False, self._changed_note(key, done))
        variant_name, variant_value, change = action
        wanted = payload.get("variant") or payload.get("state") or variant_name
        if decision not in ACTING:
            if self.report.kill_switch or row.get("kill_switch"):
                return f"Kill switch on: flag {key} was not changed (the proposal was to serve '{wanted}')."
            return f"Nothing changed: flag {key} stays as it is while pintel keeps watching."
        reason = self._refusal(row, key, wanted)
        if reason:
            return self._record(row, key, None, False, reason)
        flag = get_flag(self.con, key)
        if flag is None:
            return self._record(row, key, None, False, f"Flag {key} is not in pintel's flag store; nothing changed.")
        if wanted not in flag.variants:
            matches = [n for n, v in flag.variants.items() if v == variant_value]
            if not matches:
                return self._record(row, key, None, False, f"Flag {key} has no '{wanted}' variant; nothing changed.")
            wanted = matches[0]
        try:
            target = serve_variant(flag, wanted)
            made = change_flag(
                self.con,
                target,
                actor=f"decision:{row['decision_id']}",
                reason=f"{row.get('title') or change} (decision {row['decision_id']})",
                change=change,
                decision_id=str(row["decision_id"]),
            )
        except FlagError as exc:
            return self._record(row, key, None, False, f"Flag {key} could not be changed: {exc}")
        if made is None:
            return self._record(row, key, None, False, f"Flag {key} already serves '{wanted}' to everyone.")
        entry = {"audit_id": made.audit_id, "after": made.after}
        return self._record(row, key, made.audit_id, True, self._changed_note(key, entry))

    def _refusal(self, row: dict[str, Any], key: str, wanted: str) -> str | None:
        on, reason = is_on(self.con, self.policy.kill_switch_env)  # checked again: the switch may flip mid-run
        if on:
            self.report.kill_switch, self.report.kill_switch_reason = True, reason
            return f"Kill switch on ({reason}): flag {key} was not changed."
        if not row.get("automatic"):
            return (
                f"Needs a person: the policy does not let pintel change {key} on its own. To apply it: "
                f'`pintel flags set {key} --variant {wanted} --reason "decision {row["decision_id"]}"`.'
            )
        if row.get("data_quality_status") != "passed":
            return f"Not changed: data quality is {row.get('data_quality_status')}, and flag changes need a pass."
        human = last_human_change(self.con, key, self.policy.human_override_hours, self.now)
        if human:
            return (
                f"Not changed: {human['actor']} changed {key} at {pd.Timestamp(human['changed_at']):%Y-%m-%d %H:%M} "
                f"UTC (audit #{human['audit_id']}); pintel leaves a person's change alone for "
                f"{self.policy.human_override_hours:g} h."
            )
        if automatic_changes_on(self.con, self.now) >= self.policy.max_automatic_actions_per_day:
            return (
                f"Not changed: today's cap of {self.policy.max_automatic_actions_per_day} automatic flag changes "
                "is reached."
            )
        return None

    @staticmethod
    def _changed_note(key: str, entry: dict[str, Any]) -> str:
        variant = (entry.get("after") or {}).get("default_variant")
        return (
            f"Switched flag {key} to '{variant}' for everyone (audit #{entry['audit_id']}). "
            f'Undo: `pintel flags revert {entry["audit_id"]} --reason "..."`.'
        )

    def _record(self, row: dict[str, Any], key: str, audit_id: int | None, new: bool, note: str) -> str:
        self.report.flag_changes.append(
            {"decision_id": row["decision_id"], "flag": key, "audit_id": audit_id, "new": new, "note": note}
        )
        return note

    def _note_without_flag(self, row: dict[str, Any], decision: str) -> str:
        if decision == "escalate":
            return "Escalated to people: nothing was changed automatically."
        if decision == "monitor":
            if row.get("kill_switch") or (self.report.kill_switch and row.get("decision") in ACTING):
                return "Kill switch on: posted for information only; no automatic action."
            return "Nothing changed: pintel keeps watching and will post again if it gets worse."
        payload = _payload(row)
        users = payload.get("users")
        if isinstance(users, list):
            holdout = payload.get("holdout") or []
            shown = ", ".join(str(u) for u in users[:10]) + (" …" if len(users) > 10 else "")
            return (
                f"Retention list of {len(users):,} users for the team ({len(holdout):,} held out at random to "
                f"measure the effect): {shown}"
            )
        return "Posted for the team; pintel changed nothing on its own."

    # --- messages ---------------------------------------------------------------------------------------------

    def send(
        self,
        key: str,
        decision_id: str,
        channel: str,
        render: Callable[[], dict[str, Any]],
        *,
        kind: str = "decision",
        delivered: str | None = None,
        severity: str | None = None,
        kill_switch: bool = False,
        thread_ts: str | None = None,
    ) -> None:
        """One outbox item, from new to a final state; a pending or failed item is looked for before re-sending."""
        item = outbox.get(self.con, key)
        entry = {"key": key, "decision_id": decision_id, "channel": channel, "delivered_decision": delivered}
        if item is not None and item.state in outbox.FINAL_STATES:
            self.report.messages.append({**entry, "state": item.state, "new": False, "ts": item.message_ts})
            return
        if self.messenger is None:
            if item is None:
                self._new_item(
                    key, decision_id, kind, channel, "dry_run", render, delivered, severity, kill_switch, thread_ts
                )
                self.report.messages.append({**entry, "state": "dry_run", "new": True, "ts": None})
            else:  # sent once with a token, now without: keep it for a run that has one
                self.report.messages.append({**entry, "state": item.state, "new": False, "error": item.error})
            return
        state, ts, error = self._post(
            item, key, decision_id, kind, channel, render, delivered, severity, kill_switch, thread_ts
        )
        self.report.messages.append({**entry, "state": state, "new": state == "sent", "ts": ts, "error": error})

    def _new_item(  # type: ignore[no-untyped-def]
        self, key, decision_id, kind, channel, state, render, delivered, severity, kill_switch, thread_ts, **extra
    ) -> outbox.Item:
        """Insert a new outbox row in ``state``; the message is rendered once, here."""
        fields = (key, decision_id, kind, channel, state, render(), self.now)
        item = outbox.Item(*fields, thread_ts=thread_ts, delivered_decision=delivered, **extra)
        outbox.insert(self.con, item, severity=severity, kill_switch=kill_switch)
        return item

    def _post(self, item, key, decision_id, kind, channel, render, delivered, severity, kill_switch, thread_ts):  # type: ignore[no-untyped-def]
        messenger = self.messenger
        assert messenger is not None
        try:
            channel_id = messenger.channel_id(channel)
        except DeliveryError as exc:
            if item is None:
                args = (key, decision_id, kind, channel, "failed", render, delivered, severity, kill_switch, thread_ts)
                self._new_item(*args, error=str(exc))
            else:
                outbox.mark_failed(self.con, key, str(exc))
            return "failed", None, redact(exc)
        if item is None:
            item = self._new_item(
                key,
                decision_id,
                kind,
                channel,
                "pending",
                render,
                delivered,
                severity,
                kill_switch,
                thread_ts,
                channel_id=channel_id,
            )
        elif item.attempts > 0 or item.state == "pending":
            try:
                found = messenger.lookup_existing(item.channel_id or channel_id, key, item.created_at, thread_ts)
            except DeliveryError as exc:
                outbox.mark_failed(self.con, key, str(exc))
                return "failed", None, redact(exc)
            if found:
                outbox.mark_sent(self.con, key, found, item.channel_id or channel_id)
                return "sent", found, None
        outbox.attempt(self.con, key, channel_id)
        try:
            ts = messenger.post(channel_id, item.message, item.created_at, thread_ts)
        except DeliveryError as exc:
            outbox.mark_failed(self.con, key, str(exc))
            return "failed", None, redact(exc)
        outbox.mark_sent(self.con, key, ts, channel_id)
        return "sent", ts, None


def deliver(
    con: Any,
    decisions: pd.DataFrame | Iterable[dict[str, Any]],
    policy: Any,
    client: WebClient | Messenger | None = None,
    *,
    now: datetime | None = None,
) -> DeliveryReport:
    """Execute ``decisions`` (rows of ``decide.decisions``): flag changes, then Slack messages, idempotently.

    ``con`` is a writable connection (the one writer); ``policy`` the engine's policy (or a mapping or path);
    ``client`` a ``slack_sdk.WebClient`` — by default one from ``$PINTEL_SLACK_BOT_TOKEN``, and without a token
    the messages are rendered and stored as ``dry_run``. When a decision's run failed a critical data-quality
    check, only that run's ``escalate`` decisions are delivered.
    """
    from pintel.act.schema import ensure_schema

    ensure_schema(con)
    run = _Run(con, DeliveryPolicy.of(policy), _messenger(client), now or utcnow())
    rows = _records(decisions)
    failed_runs = {str(r.get("as_of")) for r in rows if r.get("data_quality_status") == "failed"}
    for row in rows:
        decision_id = str(row["decision_id"])
        if str(row.get("as_of")) in failed_runs and row.get("decision") != "escalate":
            run.report.skipped.append(
                {
                    "decision_id": decision_id,
                    "reason": "a critical data-quality check failed for this run; only its "
                    "data-quality alert is delivered",
                }
            )
            continue
        proposed = str(row.get("decision"))
        engine_switched = bool(row.get("kill_switch"))
        switched = engine_switched or (run.report.kill_switch and proposed in ACTING)
        decision = "monitor" if switched else proposed
        note = run.flag_action(row, decision)
        delivery = Delivery(
            decision=decision,
            action_note=note,
            kill_switch=switched,
            kill_switch_reason=run.report.kill_switch_reason or "the kill switch was on when the engine decided",
        )
        channels = run.policy.channels(str(row.get("severity")))
        if not channels:
            run.report.skipped.append(
                {"decision_id": decision_id, "reason": f"policy routes no channel for severity {row.get('severity')}"}
            )
        for channel in channels:
            key = outbox.outbox_key(decision_id, channel)
            run.send(
                key,
                decision_id,
                channel,
                lambda row=row, delivery=delivery, key=key: render_decision(row, delivery, key),
                delivered=decision,
                severity=str(row.get("severity")),
                kill_switch=switched,
            )
    return run.report


def deliver_outcomes(
    con: Any,
    outcomes: pd.DataFrame | Iterable[dict[str, Any]],
    client: WebClient | Messenger | None = None,
    *,
    now: datetime | None = None,
) -> DeliveryReport:
    """Post each outcome (a row of ``decide.action_outcomes``) as a thread reply under its decision's messages."""
    from pintel.act.schema import ensure_schema

    ensure_schema(con)
    messenger = _messenger(client)
    policy = DeliveryPolicy(routing={"info": None, "warning": None, "critical": None})
    run = _Run(con, policy, messenger, now or utcnow())
    for outcome in _records(outcomes):
        decision_id = str(outcome["decision_id"])
        parents = outbox.sent_parents(con, decision_id)
        if not parents:
            run.report.skipped.append({"decision_id": decision_id, "reason": "no delivered message to reply to"})
        for parent in parents:
            if parent.state == "dry_run" and messenger is not None:
                continue  # the parent was never posted; there is no thread to reply in
            key = outbox.outbox_key(decision_id, parent.channel, "outcome")
            run.send(
                key,
                decision_id,
                parent.channel,
                lambda outcome=outcome, key=key: render_outcome(outcome, key),
                kind="outcome",
                delivered="outcome",
                thread_ts=parent.message_ts,
            )
    return run.report
