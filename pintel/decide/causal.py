"""Promote a feature in onboarding only on a reliable causal estimate whose interval is above zero.

Reliable means the overlap diagnostics passed (``reliable``, at most ``causal.max_share_trimmed`` of the units
trimmed for lack of overlap) and, when ``causal.require_refutations``, the refutations passed. A positive
estimate that is not reliable goes to a person; everything else is recorded as monitor.
"""

from __future__ import annotations

import pandas as pd

from pintel.decide.candidate import Candidate, Context

IMPACT = "ml.causal_feature_impact_served"


def candidates(ctx: Context) -> list[Candidate]:
    if not ctx.has(IMPACT):
        return []
    rules = ctx.policy.causal
    rows = ctx.frame(f"select * from {IMPACT} where horizon_days = ? order by feature_name", [rules.horizon_days])
    out = []
    for r in rows.to_dict("records"):
        if r["ate_estimate"] is None or pd.isna(r["ate_estimate"]):
            continue
        refuted_ok = bool(r["refutations_passed"]) or not rules.require_refutations
        overlap_ok = bool(r["reliable"]) and (r["share_trimmed"] or 0) <= rules.max_share_trimmed
        positive = r["ate_ci_low"] > 0
        if positive and overlap_ok and refuted_ok:
            proposed, why = "act", "interval above zero, overlap and refutations pass"
        elif positive:
            proposed, why = "escalate", "interval above zero but the diagnostics do not pass: a person judges"
        else:
            proposed, why = "monitor", "interval not above zero"
        out.append(
            Candidate(
                source="causal",
                source_id=str(r["feature_name"]),
                action_type="promote_feature",
                target=str(r["feature_name"]),
                proposed=proposed,
                severity="info",
                units=float(r["cohort_units"] or 0),
                confidence=1.0 - float(r["ate_p_value"]) if r["ate_p_value"] is not None else 0.0,
                title=f"{'Promote' if proposed == 'act' else 'Review'} {r['feature_name']} in onboarding",
                rationale=(
                    f"Adopting {r['feature_name']} changes {rules.horizon_days}-day {r['outcome']} by "
                    f"{r['ate_estimate']:+.3f} (95 % CI {r['ate_ci_low']:+.3f} to {r['ate_ci_high']:+.3f}; naive "
                    f"{r['naive_estimate']:+.3f}); {r['share_trimmed']:.0%} trimmed, refutations "
                    f"{'passed' if r['refutations_passed'] else 'not passed'}: {why}."
                ),
                evidence={k: r[k] for k in ("ate_estimate", "ate_ci_low", "ate_ci_high", "share_trimmed", "n")},
                payload={"feature": str(r["feature_name"])},
                input_tables=[IMPACT],
            )
        )
    return out
