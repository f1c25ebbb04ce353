"""Personalisation: the next-best feature for each user, and how ready a free user is to upgrade.

* :mod:`.usage` -- the user x feature first-use matrix, point in time;
* :mod:`.ease` -- the EASE item-item model (closed form) and its penalty grid;
* :mod:`.causal_prior` -- the retention lift the causal feature-impact estimates add;
* :mod:`.rank` -- top 5 unused features per user with one reason each, and the cold-start fallback;
* :mod:`.evaluate` / :mod:`.metrics` -- hit rate@5 and NDCG@5 on the 14 days after a cut-off, beside the
  popularity baseline and the simulator's oracle;
* :mod:`.upgrade` -- P(free user upgrades within the horizon), calibrated, judged on later snapshots;
* :mod:`.dbt_models` -- what the dbt Python models call.

Decision it drives: which feature to nudge each user towards (``pintel.decide``'s feature-nudge proposer) and
whom to show an upgrade offer; the served table is ``feature_recommendations_served``.
"""

from pintel.recommend.rank import TOP_N, recommendations

__all__ = ["TOP_N", "recommendations"]
