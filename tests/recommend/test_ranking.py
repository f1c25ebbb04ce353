"""The recommender on hand-made usage: EASE, the causal blend, cold start, reasons, metrics, point in time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pintel.recommend.causal_prior import retention_lifts
from pintel.recommend.ease import fit_ease
from pintel.recommend.evaluate import MIN_USERS_WITH_USE, fit_recommender, ranking_metrics
from pintel.recommend.rank import recommendations, top_n
from pintel.recommend.usage import first_uses, usage_matrix
from pintel.status import InsufficientData

DAY = dt.date(2025, 3, 1)
FEATURES = np.array(["a", "b", "c", "d", "e", "f", "new"], dtype=object)
NAMES = {"a": "Alpha", "b": "Beta", "c": "Gamma", "d": "Delta", "e": "Epsilon", "f": "Phi", "new": "Brand new"}


def _uses(groups: dict[str, list[str]], day: dt.date = DAY) -> pd.DataFrame:
    rows = [(u, f, day) for u, feats in groups.items() for f in feats]
    return pd.DataFrame(rows, columns=["user_id", "feature_key", "first_used_date"])


def _world() -> pd.DataFrame:
    """Two tastes: 30 users use a+b+c, 30 use d+e+f, 10 use a+b+c+d, two probes and one user with no use.

    Popularity (of 73 users): a, b, d 41; c 40; e 31; f 30; nobody uses 'new'.
    """
    groups = {f"x{i:02d}": ["a", "b", "c"] for i in range(30)} | {f"y{i:02d}": ["d", "e", "f"] for i in range(30)}
    groups |= {f"z{i:02d}": ["a", "b", "c", "d"] for i in range(10)}  # makes a, b, c, d the most popular
    groups["probe_x"] = ["a", "b"]
    groups["probe_y"] = ["d", "e"]
    groups["cold"] = []
    return _uses(groups)


def test_ease_recommends_what_similar_users_use_and_never_what_was_used() -> None:
    uses = _world()
    users = np.array(sorted(set(uses["user_id"]) | {"cold"}), dtype=object)
    usage = usage_matrix(uses, users, FEATURES, DAY + dt.timedelta(days=1))
    model = fit_ease(usage.X, 0.3)
    recs = recommendations(usage, model, NAMES, {}, DAY)
    x = recs[recs["user_id"] == "probe_x"].set_index("rank")
    y = recs[recs["user_id"] == "probe_y"].set_index("rank")
    assert x.loc[1, "feature_key"] == "c" and x.loc[1, "source"] == "similar_users"
    assert y.loc[1, "feature_key"] == "f"
    assert "% of users who use" in x.loc[1, "reason"] and "also use Gamma" in x.loc[1, "reason"]
    for user, used in (("probe_x", {"a", "b"}), ("probe_y", {"d", "e"})):
        assert not used & set(recs.loc[recs["user_id"] == user, "feature_key"])
    assert recs.groupby("user_id")["rank"].max().max() == 5


def test_cold_start_user_gets_popularity_and_an_unused_feature_comes_last() -> None:
    uses = _world()
    users = np.array(sorted(set(uses["user_id"]) | {"cold"}), dtype=object)
    usage = usage_matrix(uses, users, FEATURES, DAY + dt.timedelta(days=1))
    recs = recommendations(usage, fit_ease(usage.X, 0.3), NAMES, {}, DAY)
    cold = recs[recs["user_id"] == "cold"].sort_values("rank")
    assert list(cold["feature_key"]) == ["a", "b", "d", "c", "e"]  # popularity, ties in catalogue order
    assert (cold["source"] == "popularity").all()
    assert cold["reason"].iloc[0].startswith("56% of users use Alpha")  # 41 of 73 users
    # a user who used everything else gets the never-used feature, said as such, with no made-up score
    full = usage_matrix(
        _uses({**{f"x{i}": ["a", "b", "c"] for i in range(25)}, "all": list(FEATURES[:-1])}),
        np.array(["all"] + [f"x{i}" for i in range(25)], dtype=object),
        FEATURES,
        DAY + dt.timedelta(days=1),
    )
    last = recommendations(full, fit_ease(full.X, 0.3), NAMES, {}, DAY)
    mine = last[last["user_id"] == "all"]
    assert list(mine["feature_key"]) == ["new"] and mine["source"].iloc[0] == "catalogue"
    assert "nobody has used it yet" in mine["reason"].iloc[0]


def _impact(feature: str, reliable: bool, low: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "feature_key": feature,
                "horizon_days": 30,
                "ate_estimate": 0.06,
                "ate_ci_low": low,
                "ate_ci_high": 0.10,
                "non_adopter_retention": 0.1,
                "reliable": reliable,
            }
        ]
    )


def test_a_reliable_retention_effect_lifts_a_feature_and_says_so() -> None:
    uses = _world()
    users = np.array(sorted(set(uses["user_id"]) | {"cold"}), dtype=object)
    usage = usage_matrix(uses, users, FEATURES, DAY + dt.timedelta(days=1))
    model = fit_ease(usage.X, 0.3)
    assert retention_lifts(_impact("e", reliable=False, low=0.02)) == {}  # the causal module's own verdict
    assert retention_lifts(_impact("e", reliable=True, low=-0.01)) == {}  # interval not above zero
    lifts = retention_lifts(_impact("e", reliable=True, low=0.02))
    assert lifts["e"].relative == pytest.approx(0.6)  # +6 pp on 10 %: popularity 31/73 x 1.6 beats 41/73
    plain = recommendations(usage, model, NAMES, {}, DAY)
    lifted = recommendations(usage, model, NAMES, lifts, DAY)
    cold_plain = list(plain.loc[plain["user_id"] == "cold", "feature_key"])
    cold_lifted = list(lifted.loc[lifted["user_id"] == "cold", "feature_key"])
    assert cold_plain.index("e") == 4 and cold_lifted.index("e") == 0
    row = lifted[(lifted["user_id"] == "cold") & (lifted["feature_key"] == "e")].iloc[0]
    assert row["source"] == "causal_prior" and "raises 30-day retention by +6.0 pp" in row["reason"]
    assert row["retention_lift"] == pytest.approx(0.06)


def test_usage_is_point_in_time_and_binary() -> None:
    events = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2"],
            "feature_key": ["a", "a", "b", "a"],
            "event_date": [DAY, DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=1), DAY],
        }
    )
    uses = first_uses(events)
    usage = usage_matrix(uses, np.array(["u1", "u2"], dtype=object), FEATURES, DAY)
    assert usage.used()[0].tolist() == [True] + [False] * 6  # 'b' first used after the cut-off is unseen
    assert usage.used()[1].sum() == 0  # first used on the cut-off day itself: not before it
    assert usage.X.max() == 1.0


def test_hit_rate_and_ndcg_by_hand() -> None:
    adopted = np.array([[True, False, False], [False, False, True], [False, False, False]])
    picks = np.array([[0, 1], [0, 1], [1, 2]])
    hit, ndcg, judged = ranking_metrics(picks, adopted, k=2)
    assert judged == 2 and hit == pytest.approx(0.5) and ndcg == pytest.approx(0.5)
    picks = np.array([[1, 0], [2, -1], [0, 1]])
    hit, ndcg, _ = ranking_metrics(picks, adopted, k=2)
    assert hit == 1.0 and ndcg == pytest.approx((1 / np.log2(3) + 1.0) / 2)
    score = np.array([[0.1, -np.inf, 0.3]])
    assert top_n(score, 3).tolist() == [[2, 0, -1]]


def test_too_few_feature_users_is_insufficient_data() -> None:
    uses = _uses({f"u{i}": ["a"] for i in range(MIN_USERS_WITH_USE - 1)})
    users = np.array(sorted(uses["user_id"]), dtype=object)
    with pytest.raises(InsufficientData, match=f"{MIN_USERS_WITH_USE - 1} feature users, need"):
        fit_recommender(uses, users, FEATURES, DAY + dt.timedelta(days=1))
