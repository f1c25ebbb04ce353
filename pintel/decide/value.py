"""Expected value: what acting on a candidate is worth, given how sure the evidence is and how often the action
type has worked before.

Definitions (values in the policy's ``value_unit``, per-unit values times the candidate's ``units``):

* ``p`` -- ``probability_success``: the Beta-posterior mean of the action type's success rate, the policy's
  prior (pseudo-outcomes) updated by every ``success`` / ``failure`` verdict in ``decide.action_outcomes``.
* ``c`` -- ``confidence``: the probability that the finding is real (from the evidence; e.g. 1 - p-value).
* ``benefit`` = units x benefit_per_unit; ``cost`` = units x cost_false_positive_per_unit.
* ``expected_value`` = c x p x benefit - (1 - c) x cost: acting on a real finding pays when the action works;
  acting on a false one costs a false positive.
* ``expected_loss_of_waiting`` = c x units x cost_false_negative_per_unit (decides whether to escalate).

A candidate whose evidence rules matched (``proposed`` act/rollback) acts when ``expected_value`` reaches
``thresholds.act_min_expected_value``; otherwise it escalates when waiting risks at least
``thresholds.escalate_min_expected_loss``, and is monitored below that. Other candidates keep what their
evidence proposed (``escalate`` or ``monitor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pintel.decide.candidate import Candidate
from pintel.decide.policy import Policy
from pintel.decide.stats import beta_mean
from pintel.decide.tables import ACTING, load_outcomes


@dataclass(frozen=True)
class Priced:
    probability_success: float
    benefit: float
    cost: float
    expected_value: float
    expected_loss_of_waiting: float
    decision: str


def success_rates(con: Any, policy: Policy) -> dict[str, tuple[float, int, int]]:
    """Per action type: (posterior mean, successes, failures) from the prior and the recorded verdicts."""
    outcomes = load_outcomes(con)
    counts = (
        outcomes.groupby("action_type")["verdict"].value_counts().unstack(fill_value=0)
        if not outcomes.empty
        else pd.DataFrame()
    )
    rates = {}
    for key, rules in policy.actions.items():
        wins = int(counts.loc[key].get("success", 0)) if key in counts.index else 0
        losses = int(counts.loc[key].get("failure", 0)) if key in counts.index else 0
        rates[key] = (beta_mean(rules.prior.successes, rules.prior.failures, wins, losses), wins, losses)
    return rates


def price(candidate: Candidate, policy: Policy, p_success: float) -> Priced:
    """The candidate's value and the decision the thresholds give (before the guards)."""
    rules = policy.action(candidate.action_type)
    c = min(max(candidate.confidence, 0.0), 1.0)
    benefit = candidate.units * rules.benefit_per_unit
    cost = candidate.units * rules.cost_false_positive_per_unit
    ev = c * p_success * benefit - (1 - c) * cost
    loss = c * candidate.units * rules.cost_false_negative_per_unit
    if candidate.proposed in ACTING:
        if ev >= policy.thresholds.act_min_expected_value:
            decision = candidate.proposed
        else:  # the evidence matched but acting does not pay: a person decides when waiting is costly
            decision = "escalate" if loss >= policy.thresholds.escalate_min_expected_loss else "monitor"
    else:
        decision = candidate.proposed
    return Priced(p_success, benefit, cost, ev, loss, decision)
