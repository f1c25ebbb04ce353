"""``decide.action_outcomes``: did the action work? One row per acted-on decision once its horizon has passed.

* ``rollback_flag`` -- the guardrail the rollback was about, for the users exposed when it was decided, against
  the users still unexposed at the horizon (so a later ramp step cannot pass for a recovery): the last
  ``rollouts.post_hours`` before the decision against the horizon after it (a difference-in-differences,
  :func:`pintel.decide.stats.rate_did`). ``success`` when the harmful rate came back down (one-sided 2.5 %
  level), ``failure`` when it did not move the right way at all, else inconclusive.
* ``churn_retention_list`` -- the churn of the contacted users against the random holdout over the churn
  horizon after the list's snapshot (Newcombe interval on the difference of proportions): ``success`` when
  the interval is below zero, ``failure`` when it is above zero, else inconclusive.
* ``nudge_feature`` -- adoption of the nudged feature by the nudged users against the nudge's random holdout,
  from the recommendations' date over the action's horizon (the same holdout comparison, higher is better).

Other action types have no automatic judge yet (shipping is judged by the next experiment, promotion by the
next feature-impact readout); they are left out rather than given a verdict nobody measured. Verdicts feed the
Beta posteriors of :func:`pintel.decide.value.success_rates`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pintel.decide.policy import Policy, load_policy
from pintel.decide.rollouts import EXPOSURES, USER_HOURLY
from pintel.decide.stats import rate_did, two_proportions
from pintel.decide.tables import append_outcomes, load_decisions, load_outcomes
from pintel.tables import table_exists

LABELS = "marts.fct_churn_labels"


def _rollback(con: Any, policy: Policy, d: dict) -> dict | None:
    evidence = json.loads(d["evidence"] or "{}")
    event, harmful = evidence.get("guardrail"), evidence.get("harmful")
    if not event or not table_exists(con, "marts", "fct_flag_user_hourly"):
        return None
    at, until = pd.Timestamp(d["as_of"]), pd.Timestamp(d["evaluate_after"])
    start = at - timedelta(hours=policy.rollouts.post_hours)
    counts = con.execute(
        f"""with cohort as (  -- exposed when decided, against users never exposed up to the horizon
                select user_id, first_treated_at < ? as exposed from {EXPOSURES}
                where flag_key = ? and (first_treated_at < ? or first_treated_at is null or first_treated_at >= ?)
            )
            select h.user_id, cohort.exposed,
                case when h.event_name = ? then 'metric' else 'base' end as kind,
                sum(h.events) filter (where h.event_hour >= greatest(?, ?) and h.event_hour < ?) as before,
                sum(h.events) filter (where h.event_hour >= ? and h.event_hour < ?) as after
            from {USER_HOURLY} as h inner join cohort on h.user_id = cohort.user_id
            where h.flag_key = ? and not h.is_exposure_event
              and (h.event_name = ? or h.event_name not in (select unnest(?::varchar[])))
            group by all""",
        [
            at,
            d["target"],
            at,
            until,
            event,
            start,
            pd.Timestamp(evidence["live_at"]),
            at,
            at,
            until,
            d["target"],
            event,
            [g.event for g in policy.guardrails],
        ],
    ).df()

    def arrays(exposed: bool) -> tuple[np.ndarray, ...]:
        wide = (
            counts[counts["exposed"] == exposed]
            .pivot_table(index="user_id", columns="kind", values=["before", "after"], aggfunc="sum")
            .fillna(0.0)
        )
        col = lambda p, k: wide[(p, k)].to_numpy(float) if (p, k) in wide.columns else np.zeros(len(wide))  # noqa: E731
        return col("before", "metric"), col("before", "base"), col("after", "metric"), col("after", "base")

    improving = "decrease" if harmful == "increase" else "increase"
    did = rate_did(arrays(True), arrays(False), harmful=improving, level=0.025)
    if did is None:
        return None
    verdict = "success" if did.p_value <= 0.025 else "failure" if did.harm_z <= 0 else "inconclusive"
    e = did.exposed
    return {
        "metric": event,
        "comparison": "exposed vs unexposed users, difference-in-differences",
        "before_value": e.rate_before,
        "after_value": e.rate_after,
        "control_value": did.unexposed.rate_after,
        "effect": did.ratio - 1,
        "ci_low": float(np.exp(did.ci_low) - 1),
        "ci_high": float(np.exp(did.ci_high) - 1),
        "n_treated": e.users,
        "n_control": did.unexposed.users,
        "verdict": verdict,
        "summary": (
            f"After rolling back {d['target']}, {event} per 1,000 events of the users it had been on for went "
            f"{e.rate_before:.1f} -> {e.rate_after:.1f} (net of unexposed users x{did.ratio:.2f}, "
            f"interval {np.exp(did.ci_low) - 1:+.0%} to {np.exp(did.ci_high) - 1:+.0%}): {verdict}."
        ),
        "evidence": did.as_dict(),
    }


def _versus_holdout(
    outcome: pd.Series, payload: dict, *, metric: str, what: str, who: str, lower_is_better: bool
) -> dict | None:
    """The listed users against the list's random holdout on a 0/1 ``outcome`` per user (indexed by user id).

    A listed user without an outcome (no label, signed out of the panel) counts in neither group. Newcombe's
    interval on the difference of proportions decides: ``success`` when it lies wholly on the good side of zero,
    ``failure`` when wholly on the bad side, else inconclusive.
    """
    treated = outcome.reindex(payload.get("users", [])).dropna()
    holdout = outcome.reindex(payload.get("holdout", [])).dropna()
    diff = two_proportions(int(treated.sum()), len(treated), int(holdout.sum()), len(holdout))
    if diff is None:
        return None
    good, bad = (diff.ci_high < 0, diff.ci_low > 0) if lower_is_better else (diff.ci_low > 0, diff.ci_high < 0)
    verdict = "success" if good else "failure" if bad else "inconclusive"
    return {
        "metric": metric,
        "comparison": f"{who} vs random holdout",
        "before_value": None,
        "after_value": diff.treated_rate,
        "control_value": diff.control_rate,
        "effect": diff.difference,
        "ci_low": diff.ci_low,
        "ci_high": diff.ci_high,
        "n_treated": diff.n_treated,
        "n_control": diff.n_control,
        "verdict": verdict,
        "summary": (
            f"{what} of the {diff.n_treated} {who} {diff.treated_rate:.1%} vs {diff.control_rate:.1%} "
            f"of the {diff.n_control} held out: {diff.difference:+.1%} (95 % CI {diff.ci_low:+.1%} to "
            f"{diff.ci_high:+.1%}): {verdict}."
        ),
    }


def _retention(con: Any, policy: Policy, d: dict) -> dict | None:
    if not table_exists(con, "marts", "fct_churn_labels"):
        return None
    payload = json.loads(d["payload"] or "{}")
    labels = (
        con.execute(
            f"select user_id, churned_30d from {LABELS} where snapshot_date = ? and churned_30d is not null",
            [payload.get("snapshot_date")],
        )
        .df()
        .set_index("user_id")["churned_30d"]
    )
    judged = _versus_holdout(
        labels, payload, metric="churned_30d", what="Churn", who="contacted users", lower_is_better=True
    )
    return None if judged is None else judged | {"evidence": {"snapshot_date": payload.get("snapshot_date")}}


def _nudge(con: Any, policy: Policy, d: dict) -> dict | None:
    """Adoption of the nudged feature by the nudged users against the holdout, over the action's horizon.

    The window is the one the policy gives the action (``actions.nudge_feature.horizon_hours``): from the
    recommendations' date to the decision's ``evaluate_after``. A user who had already used the feature before
    that date (the list went stale) is left out of both groups; a user with no use in the window did not adopt.
    """
    if not table_exists(con, "marts", "fct_events"):
        return None
    payload = json.loads(d["payload"] or "{}")
    feature, listed = payload.get("feature"), [*payload.get("users", []), *payload.get("holdout", [])]
    if not feature or not listed:
        return None
    start, until = pd.Timestamp(payload.get("as_of_date") or d["as_of"]), pd.Timestamp(d["evaluate_after"])
    uses = con.execute(
        """select user_id, bool_or(event_at < ?) as used_before, bool_or(event_at >= ? and event_at < ?) as adopted
           from marts.fct_events where feature_key = ? and user_id in (select unnest(?::varchar[])) group by 1""",
        [start, start, until, feature, listed],
    ).df()
    adopted = pd.Series(0.0, index=pd.Index(listed, name="user_id"))
    adopted = adopted[~adopted.index.duplicated()]
    adopted.loc[uses.loc[uses["adopted"].fillna(False), "user_id"]] = 1.0
    adopted = adopted.drop(uses.loc[uses["used_before"].fillna(False), "user_id"])
    days = (until - start) / pd.Timedelta(days=1)
    judged = _versus_holdout(
        adopted,
        payload,
        metric=f"adopted_{feature}",
        what=f"Adoption of {feature} within {days:.0f} days",
        who="nudged users",
        lower_is_better=False,
    )
    evidence = {"feature": feature, "as_of_date": payload.get("as_of_date"), "window_end": f"{until:%Y-%m-%d %H:%M}"}
    return None if judged is None else judged | {"evidence": evidence}


JUDGES = {"rollback_flag": _rollback, "churn_retention_list": _retention, "nudge_feature": _nudge}


def evaluate_outcomes(
    con: Any, policy: Policy | None = None, as_of: datetime | None = None, *, created_at: datetime | None = None
) -> pd.DataFrame:
    """Judge every act/rollback whose ``evaluate_after`` is at or before ``as_of``; append and return the rows."""
    policy = policy or load_policy()
    decisions = load_decisions(con)
    if decisions.empty:
        return pd.DataFrame()
    if as_of is None:
        as_of = con.execute("select date_trunc('hour', max(event_at)) from marts.fct_events").fetchone()[0]
    done = set(load_outcomes(con)["decision_id"])
    due = decisions[
        decisions["decision"].isin(["act", "rollback"])
        & decisions["action_type"].isin(list(JUDGES))
        & (decisions["evaluate_after"] <= pd.Timestamp(as_of))
        & ~decisions["decision_id"].isin(done)
    ]
    rows = []
    now = created_at or datetime.utcnow().replace(microsecond=0)
    for d in due.to_dict("records"):
        judged = JUDGES[d["action_type"]](con, policy, d)
        if judged is None:
            continue
        rows.append(
            {
                "outcome_id": d["decision_id"],
                "decision_id": d["decision_id"],
                "created_at": now,
                "as_of": as_of,
                "action_type": d["action_type"],
                "target": d["target"],
            }
            | judged
        )
    append_outcomes(con, rows)
    return pd.DataFrame(rows)
