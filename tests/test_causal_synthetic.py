"""The synthetic cases' true nuisances are the design's own: the oracle row of the estimator benchmark relies on it."""

from __future__ import annotations

import numpy as np
import pytest

from pintel.causal.estimators import aipw
from pintel.causal.synthetic import ihdp_like_case, linear_case, nonlinear_case


@pytest.mark.parametrize("make", [linear_case, nonlinear_case])
def test_true_nuisances_describe_the_data(make) -> None:
    case = make(4000, 3)
    t, y = case.frame["t"].to_numpy(), case.frame["y"].to_numpy(float)
    np.testing.assert_allclose(case.mu1 - case.mu0, case.tau)
    residual = y - np.where(t == 1, case.mu1, case.mu0)
    assert abs(residual.mean()) < 4 / np.sqrt(len(y))  # unit-variance noise around the true arm means
    assert 0.9 < residual.std() < 1.1
    assert abs(t.mean() - case.e.mean()) < 4 * np.sqrt(0.25 / len(t))  # the propensity is the assignment's
    # with perfect nuisances AIPW is unbiased for the sample effect, within its own standard error
    score = aipw(t, y, case.e, case.mu0, case.mu1, "ate")
    assert abs(score.estimate - case.true_ate()) < 4 * score.std_error


def test_ihdp_shape_has_no_propensity() -> None:
    assert ihdp_like_case("B", 0).e is None  # assignment there is a removed subgroup, not a propensity
