"""Retention plays: the top-risk users of the latest churn snapshot, within the team's capacity, with a holdout.

The list holds ``churn.capacity_per_day x churn.list_days`` users to contact, chosen by churn probability
(at least ``min_probability``), skipping anyone listed -- contacted or held out -- in the last
``recontact_after_days``. A random ``holdout_share`` of the chosen users is kept out of the play (a salted
hash of the user id, so the split is random with respect to risk yet the same on every re-run); the outcome
compares the two groups' churn (:mod:`pintel.decide.outcomes`). Fewer than ``min_holdout_users`` held out and
the effect could not be measured: the list is only proposed (monitor).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pandas as pd

from pintel.decide.candidate import Candidate, Context
from pintel.decide.tables import load_decisions


def in_holdout(user_id: str, salt: str, share: float) -> bool:
    """Deterministic, risk-independent random assignment: hash(salt, user) below the share."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def recently_listed(ctx: Context) -> set[str]:
    since = pd.Timestamp(ctx.as_of) - timedelta(days=ctx.policy.churn.recontact_after_days)
    past = load_decisions(ctx.con, as_of_before=ctx.as_of)
    past = past[(past["action_type"] == "churn_retention_list") & (past["as_of"] >= since)]
    users: set[str] = set()
    for payload in past["payload"].dropna():
        data = json.loads(payload)
        users.update(data.get("users", []))
        users.update(data.get("holdout", []))
    return users


def candidates(ctx: Context) -> list[Candidate]:
    rules = ctx.policy.churn
    if not ctx.has(rules.scores_table):
        return []
    scores = ctx.frame(
        f"""select user_id, snapshot_date, churn_probability, reason_1, model_version, is_stale
            from {rules.scores_table}
            where snapshot_date = (select max(snapshot_date) from {rules.scores_table} where snapshot_date < ?)
            order by churn_probability desc, user_id""",
        [ctx.as_of],
    )
    if scores.empty:
        return []
    snapshot = pd.Timestamp(scores["snapshot_date"].iloc[0])
    skip = recently_listed(ctx)
    pool = scores[(scores["churn_probability"] >= rules.min_probability) & ~scores["user_id"].isin(skip)]
    size = round(rules.capacity_per_day * rules.list_days / (1 - rules.holdout_share))
    chosen = pool.head(size)
    held = chosen["user_id"].map(lambda u: in_holdout(str(u), rules.holdout_salt, rules.holdout_share))
    treated, holdout = chosen[~held], chosen[held]
    if treated.empty:
        return []
    enough = len(holdout) >= rules.min_holdout_users
    mean_p = float(treated["churn_probability"].mean())
    version = str(scores["model_version"].iloc[0])
    stale = bool(scores["is_stale"].any())
    why = "" if enough else f" Only {len(holdout)} held out (< {rules.min_holdout_users}): proposed, not sent."
    return [
        Candidate(
            source="churn",
            source_id=f"{snapshot:%Y-%m-%d}",
            action_type="churn_retention_list",
            target=f"retention-{snapshot:%Y-%m-%d}",
            proposed="act" if enough and not stale else "monitor",
            severity="info",
            units=float(len(treated)),
            confidence=mean_p,
            title=f"Retention play for {len(treated)} top-risk users (snapshot {snapshot:%Y-%m-%d})",
            rationale=(
                f"{len(treated)} users with churn probability {treated['churn_probability'].min():.0%} to "
                f"{treated['churn_probability'].max():.0%} (mean {mean_p:.0%}) from {len(pool)} above "
                f"{rules.min_probability:.0%}; capacity {rules.capacity_per_day}/day x {rules.list_days} days; "
                f"{len(holdout)} random users held out to measure the play ({rules.holdout_share:.0%}); "
                f"top reason: {treated['reason_1'].mode().iloc[0]}."
                + (" The scores are stale: proposed, not sent." if stale else "")
                + why
            ),
            evidence={"mean_probability": mean_p, "pool": len(pool), "skipped_recent": len(skip)},
            payload={
                "users": treated["user_id"].astype(str).tolist(),
                "holdout": holdout["user_id"].astype(str).tolist(),
                "snapshot_date": f"{snapshot:%Y-%m-%d}",
            },
            input_tables=[rules.scores_table],
            model_versions={"churn": version},
        )
    ]
