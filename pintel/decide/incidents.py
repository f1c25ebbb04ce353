"""Incident alerts: every incident raised since the last look becomes a message; the severe ones go to a person.

An incident is evidence that a metric moved, not of why, so on its own it never acts: ``critical``/``major``
incidents (``incidents.escalate_severities``) escalate, the rest are posted as ``monitor``. An incident a flag
explains is handled by :mod:`pintel.decide.rollouts` (the rollback names it); the engine then drops its
escalation so a person gets one message, with the action, not two. A ``freshness`` incident is the engine's
freshness guard's (:func:`pintel.decide.guards.freshness_candidate`), not a metric alert.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from pintel.decide.candidate import Candidate, Context

INCIDENTS = "ml.metric_incidents_served"


def candidates(ctx: Context) -> list[Candidate]:
    if not ctx.has(INCIDENTS):
        return []
    since = pd.Timestamp(ctx.as_of) - timedelta(hours=ctx.policy.incidents.lookback_hours)
    rows = ctx.frame(
        f"""select incident_id, start, "end", raised_batch, metrics, cause, direction, severity,
                   relative_change, peak_score, summary
            from {INCIDENTS} where raised_batch < ? and raised_batch >= ? and kind = 'metric'
            order by raised_batch, incident_id""",
        [ctx.as_of, since],
    )
    out = []
    for r in rows.to_dict("records"):
        severe = r["severity"] in ctx.policy.incidents.escalate_severities
        change = r["relative_change"]
        change_text = f"{change:+.0%}" if change is not None and not pd.isna(change) else "n/a"
        out.append(
            Candidate(
                source="incident",
                source_id=str(r["incident_id"]),
                action_type="notify_incident",
                target=str(r["cause"]),
                proposed="escalate" if severe else "monitor",
                severity="critical" if r["severity"] == "critical" else "warning",
                units=0.0,
                confidence=1.0,
                title=f"{r['severity'].capitalize()} incident: {r['metrics']} {r['direction']} in {r['cause']}",
                rationale=(
                    f"{r['summary']} Change {change_text} from {pd.Timestamp(r['start']):%Y-%m-%d %H:%M} UTC; "
                    f"{'a person should investigate' if severe else 'posted for awareness'}."
                ),
                evidence={k: r[k] for k in ("start", "end", "raised_batch", "relative_change", "peak_score")},
                payload={"incident_id": r["incident_id"]},
                input_tables=[INCIDENTS],
                needs_data_quality=False,
            )
        )
    return out
