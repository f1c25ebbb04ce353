"""The decision engine: candidates from every source, priced, guarded, written once to ``decide.decisions``.

``decide(con)`` is what the Dagster asset, ``pintel decide`` and the benchmarks call. It reads the latest
insights (incidents, flag exposures, experiment readouts, churn scores, causal impact) as of a data hour,
turns each into a :class:`~pintel.decide.candidate.Candidate`, prices it (:mod:`pintel.decide.value`), applies
the guards (:mod:`pintel.decide.guards`) and appends the new rows (idempotency keys: a re-run adds nothing).
When a critical data-quality suite failed, the only decision is one escalation about data quality.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from pintel.decide import causal, churn, experiments, guards, incidents, rollouts
from pintel.decide.candidate import Candidate, Context
from pintel.decide.policy import Policy, load_policy
from pintel.decide.tables import ACTING, DECISION_COLUMNS, append_decisions, ensure_schema, idempotency_key, rows_frame
from pintel.decide.value import price, success_rates
from pintel.tables import table_exists

log = logging.getLogger(__name__)

SOURCES: dict[str, Callable[[Context], list[Candidate]]] = {
    "rollouts": rollouts.candidates,
    "incidents": incidents.candidates,
    "experiments": experiments.candidates,
    "churn": churn.candidates,
    "causal": causal.candidates,
}


@dataclass
class DecisionRun:
    """What one run decided: the rows (new and already recorded), how many were added, the statuses."""

    as_of: datetime
    decisions: pd.DataFrame
    added: int
    data_quality_status: str
    kill_switch: bool
    kill_switch_reason: str = ""
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        d = self.decisions["decision"].value_counts() if not self.decisions.empty else {}
        return {name: int(d.get(name, 0)) for name in ("act", "rollback", "monitor", "escalate")}


def latest_hour(con: Any) -> datetime:
    """The data time to decide about: the start of the latest hour with events (earlier hours are complete)."""
    row = con.execute("select date_trunc('hour', max(event_at)) from marts.fct_events").fetchone()
    if row is None or row[0] is None:
        raise ValueError("marts.fct_events has no events: build the warehouse before deciding")
    return pd.Timestamp(row[0]).to_pydatetime()


def _gather(ctx: Context, sources: Sequence[str], skipped: list[str]) -> list[Candidate]:
    out: list[Candidate] = []
    for name in sources:
        try:
            out.extend(SOURCES[name](ctx))
        except Exception as exc:  # one source's bad input must not stop the others; it is reported
            log.warning("decision source %s skipped: %s", name, exc)
            skipped.append(f"{name}: {type(exc).__name__}: {exc}")
    explained = {c.source_id for c in out if c.action_type == "rollback_flag" and c.source == "incident"}
    return [c for c in out if not (c.action_type == "notify_incident" and c.source_id in explained)]


def _row(ctx: Context, c: Candidate, decision: str, priced: Any, created_at: datetime, **extra: Any) -> dict:
    rules = ctx.policy.action(c.action_type)
    acting = decision in ACTING
    key = idempotency_key(c.source, c.source_id, decision, c.action_type, c.target, ctx.policy.version, ctx.as_of)
    return {
        "decision_id": key,
        "idempotency_key": key,
        "created_at": created_at,
        "as_of": ctx.as_of,
        "source": c.source,
        "source_id": c.source_id,
        "decision": decision,
        "action_type": c.action_type,
        "target": c.target,
        "severity": c.severity if decision != "monitor" or c.severity != "critical" else "warning",
        "probability_success": priced.probability_success,
        "benefit": priced.benefit,
        "cost": priced.cost,
        "expected_value": priced.expected_value,
        "confidence": c.confidence,
        "title": c.title,
        "rationale": c.rationale,
        "evidence": c.evidence | {"expected_loss_of_waiting": priced.expected_loss_of_waiting},
        "payload": c.payload,
        "input_tables": c.input_tables,
        "model_versions": c.model_versions,
        "policy_version": ctx.policy.version,
        "policy_hash": ctx.policy.hash,
        "data_quality_status": ctx.data_quality_status,
        "freshness_status": ctx.freshness_status,
        "kill_switch": False,
        "automatic": acting and rules.automatic,
        "evaluate_after": ctx.as_of + timedelta(hours=rules.horizon_hours) if acting else None,
        "status": "proposed",
    } | extra


def _guarded(ctx: Context, c: Candidate, history: guards.History, switch: tuple[bool, str], rates, now) -> dict | None:
    """The row for one candidate after the guards, or None when nothing new is to be written."""
    priced = price(c, ctx.policy, rates[c.action_type][0])
    decision, why, extra = priced.decision, "", {}
    if decision in ACTING and c.needs_data_quality and guards.blocks_actions(ctx):
        decision, why = "escalate", f"Data quality is {ctx.data_quality_status}: a person decides instead."
    if decision in ACTING and switch[0]:
        decision, why, extra = "monitor", f"Kill switch on ({switch[1]}): no automatic action.", {"kill_switch": True}
    if decision in ACTING and guards.human_changed(ctx, c):
        hours = ctx.policy.human_override_hours
        decision, why = "escalate", f"A person changed {c.payload['flag']} within {hours:g} h: not overriding it."
    reason = guards.snoozed(ctx, c.target) if decision != "monitor" else None
    if reason:
        decision, why = "monitor", f"Target {reason}."
    if decision in ACTING and history.cooling_down(c):
        return None  # acted on recently: the cooldown holds, nothing new to say
    earlier = history.acted_on(c) if decision in ACTING else None
    if earlier is not None:
        decision = "escalate"
        why = (
            f"{c.action_type} on {c.target} was already decided for data up to {earlier:%Y-%m-%d %H:%M} and the "
            "problem is still measured: repeating it cannot help, a person decides."
        )
    if decision == "monitor" and not extra and history.holds(c):
        margin = ctx.policy.stability.hysteresis_margin * max(abs(priced.benefit), 1.0)
        if priced.expected_value >= ctx.policy.thresholds.act_min_expected_value - margin:
            return None  # hysteresis: no step down to monitor on noise
    if history.repeated(c, decision):
        return None
    row = _row(ctx, c, decision, priced, now, **extra)
    row["rationale"] = guards.note(row["rationale"], why)
    if row["automatic"] and history.automatic_today() >= ctx.policy.max_automatic_actions_per_day:
        row["automatic"] = False
        row["rationale"] = guards.note(
            row["rationale"], f"Daily cap of {ctx.policy.max_automatic_actions_per_day} automatic actions reached."
        )
    return row


def decide(
    con: Any,
    policy: Policy | None = None,
    as_of: datetime | None = None,
    *,
    dry_run: bool = False,
    sources: Sequence[str] = tuple(SOURCES),
    created_at: datetime | None = None,
) -> DecisionRun:
    """Decide about the data up to ``as_of`` (default: the latest hour) and append the new decisions."""
    policy = policy or load_policy()
    as_of = pd.Timestamp(as_of or latest_hour(con)).to_pydatetime().replace(tzinfo=None)
    now = created_at or datetime.utcnow().replace(microsecond=0)
    if not dry_run:
        ensure_schema(con)
    status, detail = guards.data_quality(con)
    ctx = Context(con, policy, as_of, status, detail)
    switch = guards.kill_switch(ctx)
    rates = success_rates(con, policy)
    history = guards.History(ctx)
    skipped: list[str] = []
    candidates = [guards.data_quality_candidate(ctx)] if status == "failed" else _gather(ctx, sources, skipped)
    rows = []
    for c in candidates:
        row = _guarded(ctx, c, history, switch, rates, now)
        if row is not None:
            rows.append(row)
            history.record(row)
    added = 0 if dry_run else append_decisions(con, rows)
    frame = rows_frame(rows, DECISION_COLUMNS)
    return DecisionRun(as_of, frame, added, status, switch[0], switch[1], skipped)


def hours_to_catch_up(con: Any, policy: Policy, until: datetime, max_hours: int) -> list[datetime]:
    """The hours after the last decided one (at most ``max_hours`` back) that fall in a flag's guard window.

    A run that comes after hours of new data decides each of those hours as an hourly run would have, so a
    harmful rollout is caught at the hour the evidence was enough, not at whatever time the job happened to run.
    """
    from pintel.decide.tables import DECISIONS

    schema, name = DECISIONS.split(".")
    start = pd.Timestamp(until) - timedelta(hours=max_hours)
    if table_exists(con, schema, name):
        last = con.execute(f"select max(as_of) from {DECISIONS}").fetchone()[0]
        if last is not None:
            start = max(start, pd.Timestamp(last))
    if not table_exists(con, "marts", "fct_flag_exposures") or not policy.rollouts.guard:
        return []
    lives = con.execute(
        "select date_trunc('hour', min(first_exposed_at)) from marts.fct_flag_exposures group by flag_key"
    ).fetchall()
    guard = timedelta(hours=policy.rollouts.guard_hours)
    hours = pd.date_range(start.ceil("h") + timedelta(hours=0 if start != start.ceil("h") else 1), until, freq="h")
    keep = [h for h in hours[:-1] if any(pd.Timestamp(live) < h <= pd.Timestamp(live) + guard for (live,) in lives)]
    return [h.to_pydatetime() for h in keep]


def decide_since(
    con: Any, policy: Policy | None = None, *, max_hours: int = 0, dry_run: bool = False
) -> list[DecisionRun]:
    """Catch up hour by hour on rollouts (:func:`hours_to_catch_up`), then decide the latest hour on everything."""
    policy = policy or load_policy()
    until = latest_hour(con)
    runs = [
        decide(con, policy, hour, dry_run=dry_run, sources=["rollouts"])
        for hour in (hours_to_catch_up(con, policy, until, max_hours) if max_hours else [])
    ]
    runs.append(decide(con, policy, until, dry_run=dry_run))
    return runs
