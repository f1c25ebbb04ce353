"""Feature nudges: "show feature X to these users", from each user's top recommendation.

One candidate per feature: the users whose rank-1 recommendation (``ml.feature_recommendations_served``) is that
feature, at most ``nudges.max_users_per_feature`` of them (highest score first), with a random
``holdout_share`` kept out (a salted hash of the user id, as for retention plays) so the nudge's effect on
adoption can be measured. A nudge is proposed (``act``) only when the recommender beat the popularity
baseline on its own held-out time split (``ml.ml_recommendation_metrics``: ``blended`` hit rate@5 above
``popularity``'s) and enough users are held out; otherwise it is recorded as ``monitor`` with the reason.
Confidence is that held-out hit rate: how often a top-5 list contained what the user took up next. Once the
action's horizon has passed, :mod:`pintel.decide.outcomes` judges the nudge: adoption of the feature by the
nudged users against the holdout.
"""

from __future__ import annotations

import pandas as pd

from pintel.decide.candidate import Candidate, Context
from pintel.decide.churn import in_holdout

METRICS = "ml.ml_recommendation_metrics"


def _held_out(ctx: Context) -> tuple[float | None, float | None]:
    """(blended hit rate@k, popularity hit rate@k) of the latest evaluation, None when absent."""
    if not ctx.has(METRICS):
        return None, None
    rows = ctx.frame(f"select model, hit_rate_at_k from {METRICS}")
    rates = dict(zip(rows["model"], rows["hit_rate_at_k"], strict=True))
    return rates.get("blended"), rates.get("popularity")


def candidates(ctx: Context) -> list[Candidate]:
    rules = ctx.policy.nudges
    if not ctx.has(rules.recommendations_table):
        return []
    recs = ctx.frame(
        f"""select user_id, as_of_date, feature_key, feature_name, score, source, reason
            from {rules.recommendations_table}
            where rank = 1 and as_of_date <= ?
            order by feature_key, score desc, user_id""",
        [ctx.as_of.date() + pd.Timedelta(days=1)],
    )
    if recs.empty:
        return []
    hit, popular = _held_out(ctx)
    beats = hit is not None and popular is not None and hit > popular
    out = []
    for feature, group in recs.groupby("feature_key", sort=True):
        chosen = group.head(rules.max_users_per_feature)
        if len(chosen) < rules.min_users:
            continue
        held = chosen["user_id"].map(lambda u: in_holdout(str(u), rules.holdout_salt, rules.holdout_share))
        treated, holdout = chosen[~held], chosen[held]
        name = str(group["feature_name"].iloc[0])
        as_of = pd.Timestamp(group["as_of_date"].iloc[0])
        enough = len(holdout) >= rules.min_holdout_users
        if not beats:
            proposed, why = "monitor", "the recommender did not beat popularity on its held-out split"
        elif not enough:
            proposed, why = "monitor", f"only {len(holdout)} held out (< {rules.min_holdout_users})"
        else:
            proposed, why = "act", "the recommender beat popularity on its held-out split"
        out.append(
            Candidate(
                source="recommendations",
                source_id=f"{feature}:{as_of:%Y-%m-%d}",
                action_type="nudge_feature",
                target=f"nudge-{feature}",
                proposed=proposed,
                severity="info",
                units=float(len(treated)),
                confidence=float(hit) if hit is not None else 0.0,
                title=f"Nudge {name} to {len(treated)} users (recommendations of {as_of:%Y-%m-%d})",
                rationale=(
                    f"{name} is the top recommendation of {len(group)} users; {len(treated)} are nudged and "
                    f"{len(holdout)} held out ({rules.holdout_share:.0%}) to measure adoption. Typical reason: "
                    f"{group['reason'].mode().iloc[0]}. Held-out hit rate@5 "
                    + (f"{hit:.0%} vs popularity {popular:.0%}" if hit is not None and popular is not None else "n/a")
                    + f": {why}."
                ),
                evidence={"users": len(group), "hit_rate_at_5": hit, "popularity_hit_rate_at_5": popular},
                payload={
                    "feature": str(feature),
                    "users": treated["user_id"].astype(str).tolist(),
                    "holdout": holdout["user_id"].astype(str).tolist(),
                    "as_of_date": f"{as_of:%Y-%m-%d}",
                },
                input_tables=[rules.recommendations_table, METRICS],
            )
        )
    return out
