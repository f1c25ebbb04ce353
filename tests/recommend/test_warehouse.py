"""The recommender and the upgrade propensity on the small simulated warehouse (1 000 users x 90 days, seed 5),
through the functions the dbt models call, then served by ``pintel serve`` and proposed by the decision engine.

The shared ``small_warehouse`` has no ML models, so the models' frames are computed here from its marts and
written to a private copy's ``ml`` schema under their served names (the served SQL models only cast columns).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pintel.decide.candidate import Context
from pintel.decide.nudges import candidates as nudge_candidates
from pintel.recommend.dbt_models import (
    _upgrade_frame,
    run_recommendation_metrics,
    run_recommendations,
    run_upgrade_metrics,
)
from pintel.recommend.schemas import RECOMMENDATION_METRICS_SCHEMA, RECOMMENDATION_SCHEMA
from pintel.settings import Settings, connect
from pintel.status import InsufficientData
from pintel.tables import typed_relation
from tests.support.serve import running_server
from tests.support.warehouse import copy_warehouse

HORIZON = 30


@pytest.fixture(scope="module")
def outputs(small_warehouse: Settings) -> dict[str, pd.DataFrame]:
    con = connect(small_warehouse.warehouse, read_only=True)
    try:
        t = con.table
        rels = (t("marts.fct_events"), t("marts.fct_user_daily"), t("marts.dim_features"))
        truth = t("raw.truth_feature_propensities")
        out = {
            "recs": run_recommendations(*rels, t("marts.dim_users"), None),
            "metrics": run_recommendation_metrics(*rels, None, truth),
            "labels": _upgrade_frame(t("marts.fct_user_features"), t("marts.dim_user_plans"), rels[1], HORIZON),
            "uses": con.sql(
                "select user_id, feature_key, min(event_date) as first_used from marts.fct_events "
                "where feature_key is not null group by all"
            ).df(),
            "snaps": t("raw.truth_churn_snapshots").df(),
        }
        with pytest.raises(InsufficientData, match=r"upgrades, need ≥ 10 in the test window"):
            run_upgrade_metrics(t("marts.fct_user_features"), t("marts.dim_user_plans"), rels[1], HORIZON, None)
    finally:
        con.close()
    return out


def test_recommendations_are_unused_catalogued_features_with_reasons(outputs: dict[str, pd.DataFrame]) -> None:
    recs, uses = outputs["recs"], outputs["uses"]
    ranks = recs.groupby("user_id")["rank"].agg(["min", "max", "count"])
    assert (
        len(recs) and (ranks["min"] == 1).all() and (ranks["max"] == ranks["count"]).all() and ranks["max"].max() == 5
    )
    used = recs.merge(uses, on=["user_id", "feature_key"], how="inner")
    assert used.empty, used.head()  # nothing the user already used (as of the day after the newest data)
    assert recs["reason"].str.contains(r"\d+%").all()
    assert set(recs["source"]) <= {"similar_users", "popularity", "causal_prior", "catalogue"}
    # a signed-up user with no feature use gets the cold-start list: the same, popularity-ordered, for all
    cold = recs[~recs["user_id"].isin(uses["user_id"])]
    if len(cold):
        assert (cold["source"] == "popularity").all()
        assert cold.groupby("user_id")["feature_key"].apply(tuple).nunique() == 1


def test_metrics_beside_popularity_and_the_oracle(outputs: dict[str, pd.DataFrame]) -> None:
    m = outputs["metrics"].set_index("model")
    assert list(m.index) == ["blended", "ease", "popularity", "oracle"]
    assert m["users_judged"].nunique() == 1 and m["users_judged"].iloc[0] >= 100
    assert m["hit_rate_at_k"].between(0, 1).all() and m["ndcg_at_k"].between(0, 1).all()
    # the simulator's true propensities rank better than popularity: the scale "good" is judged on
    assert m.loc["oracle", "ndcg_at_k"] > m.loc["popularity", "ndcg_at_k"]
    assert m.loc["ease", "ndcg_at_k"] > m.loc["popularity", "ndcg_at_k"]
    assert m.loc["popularity", "lift_vs_popularity"] == 1.0
    assert m.loc["ease", "lambda_scale"] > 0 and np.isnan(m.loc["popularity", "lambda_scale"])


def test_upgrade_labels_agree_with_the_simulators_oracle(outputs: dict) -> None:
    """The warehouse's label (a paid plan starting within 30 days, from dim_user_plans) and population (free
    plan at the snapshot) are the simulator's: the oracle ranks the realised upgrades and its mean is of their
    order. (Known: the oracle's mean runs 20-30 % above the realised rate on these worlds -- see BENCHMARKS.md;
    this world is too small to train on, 6-9 upgrades a week, so the model is skipped, asserted above.)"""
    labels, snaps = outputs["labels"].dropna(subset=["upgraded"]), outputs["snaps"]
    snaps["snapshot_date"] = pd.to_datetime(snaps["snapshot_date"]).dt.date
    joined = labels.merge(snaps, on=["user_id", "snapshot_date"]).dropna(subset=["upgrade_oracle_probability"])
    assert len(joined) > 0.9 * len(labels)
    realised, oracle = joined["upgraded"].mean(), joined["upgrade_oracle_probability"].mean()
    assert 0.5 < oracle / realised < 2.5, (realised, oracle)
    assert roc_auc_score(joined["upgraded"], joined["upgrade_oracle_probability"]) > 0.6
    assert snaps.loc[snaps["plan"] != "free", "upgrade_oracle_probability"].isna().all()


def test_upgrade_labels_by_hand() -> None:
    from pintel.recommend.upgrade import upgrade_frame

    s = dt.date(2025, 3, 3)
    features = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "snapshot_date": [s, s, s, s + dt.timedelta(days=14)],
            "plan": ["free", "free", "pro", "free"],
        }
    )
    plans = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "d"],
            "plan": ["free", "starter", "free", "starter", "pro", "free"],
            "valid_from": [
                s - dt.timedelta(days=40),
                s + dt.timedelta(days=29),
                s - dt.timedelta(days=9),
                s + dt.timedelta(days=30),
                s - dt.timedelta(days=5),
                s - dt.timedelta(days=1),
            ],
        }
    )
    out = upgrade_frame(features, plans, {"free"}, HORIZON, as_of=s + dt.timedelta(days=35)).set_index("user_id")
    assert "c" not in out.index  # paid at the snapshot: not in the population
    assert out.loc["a", "upgraded"] == 1.0 and out.loc["b", "upgraded"] == 0.0  # day 29 in, day 30 out
    assert np.isnan(out.loc["d", "upgraded"])  # its horizon ends after as_of: not observed yet


def _served_copy(small_warehouse: Settings, root: Path, outputs: dict) -> Settings:
    settings = copy_warehouse(small_warehouse, root)
    con = connect(settings.warehouse)
    try:
        con.execute("create schema if not exists ml")
        for name, frame, schema in (
            ("feature_recommendations_served", outputs["recs"], RECOMMENDATION_SCHEMA),
            ("ml_recommendation_metrics", outputs["metrics"], RECOMMENDATION_METRICS_SCHEMA),
        ):
            typed_relation(con, frame, schema).create(f"ml.{name}")
    finally:
        con.close()
    return settings


def test_served_and_proposed(small_warehouse: Settings, tmp_path: Path, outputs: dict) -> None:
    settings = _served_copy(small_warehouse, tmp_path / "wh", outputs)
    recs = outputs["recs"]
    user = str(recs.loc[recs["source"] == "similar_users", "user_id"].iloc[0])
    with running_server(settings.warehouse, log=tmp_path / "serve.log") as url:
        body = httpx.get(f"{url}/users/{user}/recommendations", timeout=5).json()
        assert body["fallback"] is False and [r["rank"] for r in body["recommendations"]] == [1, 2, 3, 4, 5]
        mine = recs[recs["user_id"] == user].sort_values("rank")
        assert [r["feature_key"] for r in body["recommendations"]] == list(mine["feature_key"])
        unknown = httpx.get(f"{url}/users/nobody-at-all/recommendations", timeout=5)
        assert unknown.status_code == 200 and unknown.json()["fallback"] is True  # cold start, not an error
        assert {r["source"] for r in unknown.json()["recommendations"]} <= {"popularity", "causal_prior", "catalogue"}
        assert httpx.get(f"{url}/users/{'x' * 500}/recommendations", timeout=5).status_code == 400
    from pintel.decide import load_policy

    con = connect(settings.warehouse, read_only=True)
    try:
        ctx = Context(con, load_policy(), dt.datetime.combine(recs["as_of_date"].max(), dt.time()))
        found = nudge_candidates(ctx)
    finally:
        con.close()
    top = recs[recs["rank"] == 1]["feature_key"].value_counts()
    assert {c.payload["feature"] for c in found} == set(top[top >= 20].index)
    for c in found:
        assert c.action_type == "nudge_feature" and c.units == len(c.payload["users"])
        assert not set(c.payload["users"]) & set(c.payload["holdout"])
        assert len(c.payload["users"]) + len(c.payload["holdout"]) == min(int(top[c.payload["feature"]]), 500)
        assert c.proposed in {"act", "monitor"}
