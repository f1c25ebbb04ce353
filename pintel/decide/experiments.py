"""Experiment candidates by ordered decision rules (first match wins), one per experiment variant.

1. **Health gates** -- sample-ratio mismatch or an untrustworthy readout escalates (it never ships); too few
   units per arm (``experiments.min_units_per_arm``) or too few days (``min_days``) keeps it running.
2. **Losers** -- the goal's lift interval entirely below zero: roll the flag back.
3. **Winners** -- the goal's lift interval entirely above zero: ship (``ship_flag``; the policy says whether
   a person must approve).
4. Past ``max_days`` without a verdict a person decides (escalate); otherwise keep running (monitor).

Data quality is the engine's gate (:mod:`pintel.decide.guards`), applied to every source alike.
"""

from __future__ import annotations

import pandas as pd

from pintel.decide.candidate import Candidate, Context

READOUT = "ml.experiment_results_served"


def _rule(r: dict, rules, days: int) -> tuple[str, str, str]:
    """(proposed decision, action type, why) of the first matching rule."""
    if bool(r["srm_detected"]):
        return "escalate", "escalate", f"sample-ratio mismatch (p = {r['srm_p_value']:.2g}): the split is broken"
    if not bool(r["trustworthy"]):
        return "escalate", "escalate", f"the readout is not trustworthy ({r['notes'] or 'see its notes'})"
    if min(r["units"], r["control_units"]) < rules.min_units_per_arm:
        return "monitor", "ship_flag", f"fewer than {rules.min_units_per_arm} units in an arm: keep running"
    if days < rules.min_days:
        return "monitor", "ship_flag", f"{days} days of exposure, fewer than {rules.min_days}: keep running"
    if r["lift_rel_ci_high"] < 0:
        return "rollback", "rollback_flag", "the goal's lift interval is entirely below zero"
    if r["lift_rel_ci_low"] > 0:
        return "act", "ship_flag", "the goal's lift interval is entirely above zero and the readout is healthy"
    if days > rules.max_days:
        return "escalate", "escalate", f"no verdict after {days} days (more than {rules.max_days}): a person decides"
    return "monitor", "ship_flag", "no verdict yet: keep running"


def candidates(ctx: Context) -> list[Candidate]:
    if not ctx.has(READOUT):
        return []
    rows = ctx.frame(f"select * from {READOUT} where variant is not null order by experiment, variant")
    rules = ctx.policy.experiments
    out = []
    for r in rows.to_dict("records"):
        start, end = pd.Timestamp(r["exposure_start_date"]), pd.Timestamp(r["exposure_end_date"])
        if start > pd.Timestamp(ctx.as_of):
            continue
        days = int((min(end, pd.Timestamp(ctx.as_of)) - start).days) + 1
        proposed, action, why = _rule(r, rules, days)
        lift = f"{r['lift_rel']:+.1%} (95 % CI {r['lift_rel_ci_low']:+.1%} to {r['lift_rel_ci_high']:+.1%})"
        confidence = 1.0 - float(r["p_value"]) if r["p_value"] is not None and not pd.isna(r["p_value"]) else 0.0
        verb = {"act": "Ship", "rollback": "Roll back", "escalate": "Escalate", "monitor": "Keep running"}[proposed]
        out.append(
            Candidate(
                source="experiment",
                source_id=f"{r['experiment']}:{r['variant']}",
                action_type=action,
                target=str(r["experiment"]),
                proposed=proposed,
                severity="warning" if proposed in ("rollback", "escalate") else "info",
                units=float(r["units"] + r["control_units"]),
                confidence=confidence,
                title=f"{verb} experiment {r['experiment']} ({r['variant']} vs {r['control']})",
                rationale=(
                    f"{r['conversion_event']} conversion {r['conversion']:.1%} vs {r['control_conversion']:.1%} "
                    f"in control, lift {lift}, p = {r['p_value']:.2g}, {r['units']} vs {r['control_units']} units "
                    f"over {days} days, SRM p = {r['srm_p_value']:.2g}: {why}."
                ),
                evidence={
                    k: r[k]
                    for k in ("lift_rel", "lift_rel_ci_low", "lift_rel_ci_high", "p_value", "srm_p_value", "units")
                }
                | {"days": days, "rule": why},
                payload={"flag": str(r["experiment"]), "state": "on" if proposed == "act" else "off"},
                input_tables=[READOUT],
            )
        )
    return out
