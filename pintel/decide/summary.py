"""The decisions in a few terminal lines (``pintel summary``): counts, outcomes, then rollbacks, escalations, acts."""

from __future__ import annotations

from typing import Any

from pintel.decide.tables import load_decisions, load_outcomes


def decisions_lines(con: Any, latest: int = 5) -> list[str]:
    decisions = load_decisions(con)
    if decisions.empty:
        return ["decisions: none yet (pintel decide)"]
    counts = decisions["decision"].value_counts()
    text = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in ("act", "rollback", "monitor", "escalate"))
    outcomes = load_outcomes(con)
    verdicts = outcomes["verdict"].value_counts()
    judged = ", ".join(f"{int(n)} {v}" for v, n in verdicts.items()) or "none judged yet"
    lines = [f"decisions ({decisions['policy_version'].iloc[-1]} policy): {text}; outcomes: {judged}"]
    acting = decisions[decisions["decision"].isin(["act", "rollback", "escalate"])].copy()
    acting["rank"] = acting["decision"].map({"rollback": 0, "escalate": 1, "act": 2})
    acting = acting.sort_values(["rank", "as_of"], ascending=[True, False]).head(latest)
    for r in acting.to_dict("records"):
        lines.append(
            f"  - {r['as_of']:%Y-%m-%d %H:%M} {r['decision']:<8} {r['action_type']} {r['target']}: {r['title']}"
        )
    return lines
