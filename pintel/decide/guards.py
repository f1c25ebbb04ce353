"""The guards between a priced candidate and a written decision, in the order they apply.

1. **Data quality** -- a failed critical suite (or none recorded, when ``data_quality.unknown_blocks_actions``)
   turns every act/rollback that needs data quality into ``escalate``; the engine also writes one data-quality
   escalation (:func:`data_quality_candidate`).
2. **Kill switch** (``pintel.act.kill_switch.is_on``) -- act/rollback become ``monitor`` with ``kill_switch``.
3. **A person's change** -- a flag a person changed within ``human_override_hours`` is not changed
   automatically: the rollback escalates instead (a person decides about a person's change).
4. **Snoozes** (policy ``snoozes`` and ``decide.snoozes``) -- a snoozed target only gets ``monitor``.
5. **Repeat / cooldown / hysteresis** (:class:`History`) -- the same decision on the same evidence is written
   once; no new act/rollback on a target within its action's ``cooldown_hours``; a target that got an
   act/rollback/escalate is not stepped down to ``monitor`` within ``stability.hysteresis_hours``; after the
   cooldown, a ``once_per_target`` action (a rollback, a ship) already decided on the target escalates instead
   of acting again: the problem outlived the action, so repeating it cannot help.
6. **Daily cap** -- beyond ``max_automatic_actions_per_day`` automatic act/rollback decisions per data day,
   the rest still say act/rollback but are not ``automatic`` (a person approves).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from pintel.decide.candidate import Candidate, Context
from pintel.decide.tables import ACTING, load_decisions, load_snoozes
from pintel.quality.history import HISTORY_TABLE


def data_quality(con: Any, as_of: datetime | None = None) -> tuple[str, list[dict[str, Any]]]:
    """``passed`` / ``failed`` / ``unknown`` from the latest recorded result of each critical GX suite."""
    schema, name = HISTORY_TABLE.split(".")
    from pintel.tables import table_exists

    if not table_exists(con, schema, name):
        return "unknown", []
    rows = con.execute(
        f"""select suite, success, status, failed, validated_at from {HISTORY_TABLE}
            where critical and status in ('passed', 'failed')
            qualify row_number() over (partition by suite order by validated_at desc) = 1
            order by suite"""
    ).df()
    if rows.empty:
        return "unknown", []
    detail = [
        {"suite": r["suite"], "status": r["status"], "failed": int(r["failed"]), "at": str(r["validated_at"])}
        for r in rows.to_dict("records")
    ]
    return ("passed" if bool(rows["success"].all()) else "failed"), detail


def data_quality_candidate(ctx: Context) -> Candidate:
    failed = [d for d in ctx.data_quality_detail if d["status"] == "failed"]
    names = ", ".join(f"{d['suite']} ({d['failed']} expectations)" for d in failed) or "none recorded"
    return Candidate(
        source="data_quality",
        source_id=",".join(d["suite"] for d in failed) or "unknown",
        action_type="escalate",
        target="data-quality",
        proposed="escalate",
        severity="critical",
        units=0.0,
        confidence=1.0,
        title="Data quality failed: no automatic action until it passes",
        rationale=f"Critical quality suites failed: {names}. Every act/rollback of this run became an escalation.",
        evidence={"suites": ctx.data_quality_detail},
        input_tables=[HISTORY_TABLE],
        needs_data_quality=False,
    )


def blocks_actions(ctx: Context) -> bool:
    status = ctx.data_quality_status
    return status == "failed" or (status == "unknown" and ctx.policy.data_quality.unknown_blocks_actions)


def snoozed(ctx: Context, target: str) -> str | None:
    """Why ``target`` is snoozed at the decision hour (policy first, then ``decide.snoozes``), or None."""
    rule = ctx.policy.snoozed(target, ctx.as_of)
    if rule is not None:
        return f"snoozed by the policy until {rule.until:%Y-%m-%d %H:%M}: {rule.reason}"
    rows = load_snoozes(ctx.con)
    rows = rows[(rows["target"] == target) & (rows["until"] > pd.Timestamp(ctx.as_of))]
    if not rows.empty:
        r = rows.iloc[-1]
        return f"snoozed by {r['actor']} until {pd.Timestamp(r['until']):%Y-%m-%d %H:%M}: {r['reason']}"
    return None


def human_changed(ctx: Context, candidate: Candidate) -> bool:
    flag = candidate.payload.get("flag")
    if not flag or candidate.action_type not in ("rollback_flag", "ship_flag"):
        return False
    from pintel.act.flags import recent_human_change

    return recent_human_change(ctx.con, flag, ctx.policy.human_override_hours)


def kill_switch(ctx: Context) -> tuple[bool, str]:
    from pintel.act.kill_switch import is_on

    return is_on(ctx.con, ctx.policy.kill_switch_env)


class History:
    """The decisions made about earlier data: what repeat, cooldown, hysteresis and the cap look at."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.past = load_decisions(ctx.con, as_of_before=ctx.as_of)
        self.written: list[dict[str, Any]] = []

    def _all(self) -> pd.DataFrame:
        return pd.concat([self.past, pd.DataFrame(self.written)], ignore_index=True) if self.written else self.past

    def repeated(self, c: Candidate, decision: str) -> bool:
        past = self._all()
        same = (
            (past["source"] == c.source)
            & (past["source_id"] == c.source_id)
            & (past["decision"] == decision)
            & (past["action_type"] == c.action_type)
            & (past["target"] == c.target)
        )
        return bool(same.any())

    def _recent(self, target: str, hours: float, decisions: tuple[str, ...]) -> pd.DataFrame:
        past = self._all()
        since = pd.Timestamp(self.ctx.as_of) - timedelta(hours=hours)
        return past[(past["target"] == target) & past["decision"].isin(decisions) & (past["as_of"] >= since)]

    def cooling_down(self, c: Candidate) -> bool:
        hours = self.ctx.policy.action(c.action_type).cooldown_hours
        return hours > 0 and not self._recent(c.target, hours, ACTING).empty

    def acted_on(self, c: Candidate) -> pd.Timestamp | None:
        """When ``c``'s one-off action was last decided on its target (any evidence), or None."""
        if not self.ctx.policy.action(c.action_type).once_per_target:
            return None
        past = self._all()
        done = past[(past["target"] == c.target) & (past["action_type"] == c.action_type)]
        done = done[done["decision"].isin(ACTING)]
        return None if done.empty else pd.Timestamp(done["as_of"].max())

    def holds(self, c: Candidate) -> bool:
        """Hysteresis: a recent act/rollback/escalate on the target keeps a ``monitor`` from being written."""
        hours = self.ctx.policy.stability.hysteresis_hours
        return not self._recent(c.target, hours, (*ACTING, "escalate")).empty

    def automatic_today(self) -> int:
        past = self._all()
        day = pd.Timestamp(self.ctx.as_of).normalize()
        today = past[(past["as_of"] >= day) & past["decision"].isin(ACTING)]
        return int(today["automatic"].fillna(False).astype(bool).sum())

    def record(self, row: dict[str, Any]) -> None:
        self.written.append(
            {k: row[k] for k in ("source", "source_id", "decision", "action_type", "target")}
            | {
                "as_of": pd.Timestamp(row["as_of"]),
                "automatic": row["automatic"],
            }
        )


def note(rationale: str, why: str) -> str:
    return f"{rationale} {why}".strip()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
