"""The model classes (LogisticChurnModel = v1, BoostedChurnModel = v2): contributions and the reasons
they explain a score with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from pintel.churn import TrainedModels, score


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(("driver", "value"), [("tickets_28d", 6.0), ("days_since_last_active", 30.0)])
def test_reasons_point_to_the_planted_driver(trained: TrainedModels, version: str, driver: str, value: float) -> None:
    model = trained.models[version]
    # A paying user who looks typical on everything (training medians / modes) except one planted driver
    # with a known effect on the simulated hazard: that driver must be the top reason.
    typical = {f: trained.v2.reference[f] for f in model.features}
    base = pd.DataFrame([{**typical, "plan": "pro", "user_id": 1, "snapshot_date": pd.Timestamp("2024-04-01")}])
    at_risk = base.assign(**{driver: value, "user_id": 2})
    out = score(model, pd.concat([base, at_risk], ignore_index=True), n_threads=1)
    assert out.loc[1, "churn_probability"] > out.loc[0, "churn_probability"]
    assert out.loc[1, "reason_1"].startswith(f"{driver} high ({value:.0f} vs "), out.loc[1].to_dict()
    assert not any(str(r).startswith(driver) for r in out.loc[0, ["reason_1", "reason_2", "reason_3"]])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_reasons_only_name_features_pushing_risk_up(trained: TrainedModels, version: str) -> None:
    model = trained.models[version]
    sample = trained.test.sample(500, random_state=0)
    contributions = model.contributions(sample)
    out = score(model, sample, n_threads=1)
    for i, reasons in enumerate(out[["reason_1", "reason_2", "reason_3"]].itertuples(index=False)):
        named = [r.split(" ")[0] for r in reasons if r is not None]
        row = contributions.iloc[i]
        assert all(row[f] > 0 for f in named)
        assert named == list(row[row > 0.01].sort_values(ascending=False, kind="stable").index[: len(named)])


def test_v1_contributions_are_an_exact_decomposition(trained: TrainedModels) -> None:
    sample = trained.test.head(200)
    contributions = trained.v1.contributions(sample).sum(axis=1).to_numpy()
    log_odds = logit(trained.v1.predict_proba(sample))
    # the prior shift is a second intercept: it moves every user's log-odds alike and explains nobody's risk
    intercept = trained.v1.estimator.intercept_[0] + trained.v1.logit_shift
    np.testing.assert_allclose(contributions + intercept, log_odds, atol=1e-8)
