"""Rollback candidates: a flag whose exposed users moved on a guardrail while its unexposed users did not.

Evidence is a difference-in-differences on exposure (:func:`pintel.decide.stats.rate_did`), never a
coincidence in time: for each flag, the eligible users (shown the flag in any variant) split into *exposed*
(served a treated variant by the decision hour) and *unexposed*; each guardrail event's rate per 1,000 other
events is compared before the flag went live and over the last ``rollouts.post_hours`` hours. Only events the
warehouse had received before the decision hour count (``received_hour``), so an hourly run decides on what an
hourly run could have seen.

Two ways in, both from the policy:

* **guard** -- for ``guard_hours`` after a flag goes live, every guardrail is tested each hour at
  ``false_rollback_budget / (guard_hours x guardrails)`` (Bonferroni over the looks);
* **incident** -- an incident raised in the last ``incidents.lookback_hours`` whose segment is the flag's
  platform (or overall) and which started within ``link_window_hours`` of the flag going live is tested at
  ``incident_alpha``; it names the incident as the decision's source.

Either way a rollback also needs ``min_exposed_users`` exposed users and a relative change of at least
``min_relative_effect`` in the harmful direction.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd

from pintel.decide.candidate import Candidate, Context
from pintel.decide.stats import DiffInDiff, rate_did

EXPOSURES = "marts.fct_flag_exposures"
USER_HOURLY = "marts.fct_flag_user_hourly"
INCIDENTS = "ml.metric_incidents_served"


def flags_live(ctx: Context) -> pd.DataFrame:
    """Flags known by the decision hour: key, go-live hour, main platform, exposed and eligible users."""
    return ctx.frame(
        f"""
        select
            flag_key,
            date_trunc('hour', min(first_exposed_at)) as live_at,
            mode(platform) as platform,
            count(*) filter (where first_treated_known_at < ? and first_treated_at < ?) as exposed_users,
            count(*) as eligible_users
        from {EXPOSURES}
        where first_known_at < ?
        group by flag_key
        order by flag_key
        """,
        [ctx.as_of] * 3,
    )


def user_counts(ctx: Context, flag: str, live_at: pd.Timestamp, post_from: pd.Timestamp) -> pd.DataFrame:
    """Per user and event name: events before go-live and after ``post_from``, with the user's cohort.

    After go-live an exposed user's events count only while served a treated variant, an unexposed user's only
    while served an off one: the comparison is between what each variant did, not who the users are.
    """
    guardrails = [g.event for g in ctx.policy.guardrails]
    marks = ", ".join("?" for _ in guardrails)
    return ctx.frame(
        f"""
        with cohort as (
            select user_id, (first_treated_at < ? and first_treated_known_at < ?) as exposed
            from {EXPOSURES}
            where flag_key = ? and first_known_at < ?
        ),
        hours as (
            select h.user_id, cohort.exposed, h.event_hour, h.is_treated,
                case when h.event_name in ({marks}) then h.event_name else '_base' end as metric,
                h.events
            from {USER_HOURLY} as h
            inner join cohort on h.user_id = cohort.user_id
            where h.flag_key = ? and h.received_hour < ? and h.event_hour < ? and not h.is_exposure_event
        )
        select user_id, exposed, metric,
            sum(events) filter (where event_hour < ?) as before,
            sum(events) filter (where event_hour >= ? and is_treated = exposed) as after
        from hours
        group by user_id, exposed, metric
        """,
        [ctx.as_of, ctx.as_of, flag, ctx.as_of, *guardrails, flag, ctx.as_of, ctx.as_of, live_at, post_from],
    )


def _wide(counts: pd.DataFrame, exposed: bool) -> pd.DataFrame:
    """One cohort's counts, a row per user and a (period, metric) column each; pivoted once for all guardrails."""
    cohort = counts[counts["exposed"] == exposed]
    wide = cohort.pivot_table(index="user_id", columns="metric", values=["before", "after"], aggfunc="sum")
    return wide.fillna(0.0)


def _arrays(wide: pd.DataFrame, metric: str) -> tuple[np.ndarray, ...]:
    def col(period: str, name: str) -> np.ndarray:
        return wide[(period, name)].to_numpy(float) if (period, name) in wide.columns else np.zeros(len(wide))

    return col("before", metric), col("before", "_base"), col("after", metric), col("after", "_base")


def guardrail_tests(ctx: Context, flag: str, live_at: pd.Timestamp, level: float) -> list[tuple[str, DiffInDiff]]:
    """The difference-in-differences of every guardrail for ``flag`` at the decision hour."""
    post_from = max(live_at, pd.Timestamp(ctx.as_of) - timedelta(hours=ctx.policy.rollouts.post_hours))
    counts = user_counts(ctx, flag, live_at, post_from)
    if counts.empty or not counts["exposed"].any() or counts["exposed"].all():
        return []
    tests = []
    exposed, unexposed = _wide(counts, True), _wide(counts, False)
    for guardrail in ctx.policy.guardrails:
        did = rate_did(
            _arrays(exposed, guardrail.event),
            _arrays(unexposed, guardrail.event),
            harmful=guardrail.harmful,
            level=level,
        )
        if did is not None:
            tests.append((guardrail.event, did))
    return tests


def linked_incidents(ctx: Context, flag: pd.Series) -> pd.DataFrame:
    """Incidents raised recently whose start follows the flag's go-live and whose segment is its platform."""
    if not ctx.has(INCIDENTS):
        return pd.DataFrame()
    rules = ctx.policy.rollouts
    since = pd.Timestamp(ctx.as_of) - timedelta(hours=ctx.policy.incidents.lookback_hours)
    return ctx.frame(
        f"""
        select incident_id, start, raised_batch, metrics, segments, severity, summary
        from {INCIDENTS}
        where raised_batch < ? and raised_batch >= ?
          and start >= ? and start <= ?
          and (cause = 'overall' or (cause_dim = 'platform' and cause_value = ?)
               or list_contains(string_split(segments, ','), ?))
        order by raised_batch, incident_id
        """,
        [
            ctx.as_of,
            since,
            flag["live_at"],
            flag["live_at"] + timedelta(hours=rules.link_window_hours),
            flag["platform"],
            f"platform={flag['platform']}",
        ],
    )


def _harmful(did: DiffInDiff, harmful: str, min_effect: float) -> bool:
    big = did.ratio >= 1 + min_effect if harmful == "increase" else did.ratio <= 1 - min_effect
    return big and did.p_value <= did.level


def candidates(ctx: Context) -> list[Candidate]:
    """One candidate per flag whose guardrails moved for exposed users only (rollback) or nearly did (monitor)."""
    if not (ctx.has(EXPOSURES) and ctx.has(USER_HOURLY)):
        return []
    rules = ctx.policy.rollouts
    harmful_of = {g.event: g.harmful for g in ctx.policy.guardrails}
    out = []
    for flag in flags_live(ctx).to_dict("records"):
        live_at = pd.Timestamp(flag["live_at"])
        hours_live = (pd.Timestamp(ctx.as_of) - live_at) / timedelta(hours=1)
        incidents = linked_incidents(ctx, pd.Series(flag))
        in_guard = rules.guard and 0 < hours_live <= rules.guard_hours
        if not in_guard and incidents.empty:
            continue
        guard_level = rules.false_rollback_budget / (rules.guard_hours * len(ctx.policy.guardrails))
        level = max(guard_level if in_guard else 0.0, rules.incident_alpha if not incidents.empty else 0.0)
        tests = guardrail_tests(ctx, flag["flag_key"], live_at, level)
        if not tests:
            continue
        event, did = min(tests, key=lambda t: t[1].p_value)
        harmful = harmful_of[event]
        enough = did.exposed.users >= rules.min_exposed_users
        rollback = enough and _harmful(did, harmful, rules.min_relative_effect)
        if not rollback and did.p_value > 0.01:
            continue
        incident = incidents.iloc[-1] if not incidents.empty else None
        out.append(_candidate(ctx, flag, event, harmful, did, tests, rollback, incident, hours_live))
    return out


def _candidate(ctx, flag, event, harmful, did, tests, rollback, incident, hours_live) -> Candidate:
    key = flag["flag_key"]
    change = did.ratio - 1
    moved = f"{'rose' if change > 0 else 'fell'} {abs(change):.0%}"
    low, high = math.exp(did.ci_low) - 1, math.exp(did.ci_high) - 1
    e, u = did.exposed, did.unexposed
    rationale = (
        f"{event} per 1,000 other events of the {e.users} users served {key} {moved} more than for the "
        f"{u.users} unexposed users (difference-in-differences ratio {did.ratio:.2f}, interval {low:+.0%} to "
        f"{high:+.0%}; exposed {e.rate_before:.1f} -> {e.rate_after:.1f}, unexposed {u.rate_before:.1f} -> "
        f"{u.rate_after:.1f}; p = {did.p_value:.2g} against a level of {did.level:.2g}), "
        f"{hours_live:.0f} h after {key} went live on {flag['platform']}."
    )
    if incident is not None:
        rationale += f" It explains incident {incident['incident_id']} ({incident['severity']}): {incident['summary']}"
    if not rollback:
        rationale += " Not enough for a rollback yet (size, users or level): watching."
    evidence = {
        "guardrail": event,
        "harmful": harmful,
        **did.as_dict(),
        "hours_live": round(hours_live, 1),
        "live_at": pd.Timestamp(flag["live_at"]).isoformat(),
        "platform": flag["platform"],
        "all_guardrails": {name: round(t.p_value, 6) for name, t in tests},
    }
    return Candidate(
        source="incident" if incident is not None else "rollout",
        source_id=str(incident["incident_id"]) if incident is not None else f"{key}@{pd.Timestamp(flag['live_at'])}",
        action_type="rollback_flag",
        target=key,
        proposed="rollback" if rollback else "monitor",
        severity="critical" if rollback else "warning",
        units=float(e.users),
        confidence=1.0 - did.p_value,
        title=f"{key} is {'raising' if harmful == 'increase' else 'cutting'} {event} for exposed users",
        rationale=rationale,
        evidence=evidence,
        payload={"flag": key, "state": "off"},
        input_tables=[EXPOSURES, USER_HOURLY] + ([INCIDENTS] if incident is not None else []),
    )
