"""Nuisance models chosen by cross-validated loss, judged on small synthetic data with known unit effects.

Two cases from :mod:`pintel.causal.synthetic` (linear and non-linear outcome and effect, confounded
assignment), 300 units each, many replications. One default estimate per replication is computed once for
the module (``replications``); the fixed-choice estimates are recomputed from the same cross-fit's candidate
predictions -- numerically what ``estimate_effect(..., outcome_model="linear" | "gbm")`` returns, which
``test_candidate_plug_ins_are_what_the_public_api_returns`` checks on one replication.

The heavier version (more replications, IHDP, EconML beside pintel) is benchmarks/bench_causal_synthetic.py.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

from pintel.causal import estimate_effect
from pintel.causal.data import prepare
from pintel.causal.nuisance import cross_fit
from pintel.causal.synthetic import Case, ihdp_like_case, linear_case, nonlinear_case

N_UNITS = 300
REPLICATIONS = 24
CASES = {"linear": linear_case, "nonlinear": nonlinear_case}
OUTCOME_CHOICES = {"linear": "ridge", "gbm": "gbm"}


def _plug_ins(case: Case, seed: int = 0) -> dict[str, float]:
    """Errors of AIPW and regression adjustment with the chosen and with each fixed outcome model.

    Every candidate's out-of-fold predictions come from one cross-fit; trimming uses the chosen propensity,
    as every ``estimate_effect`` call with the default propensity model does.
    """
    data = prepare(case.frame, "t", "y", case.covariates)
    nuis = cross_fit(data.X, data.t, data.y, binary=False, n_folds=5, seed=seed)
    kept = (nuis.e >= 0.01) & (nuis.e <= 0.99)
    t, y, e = data.t[kept], data.y[kept], nuis.e[kept]
    truth = case.true_ate(kept)
    out = {}
    outcome_sets = {"auto": (nuis.mu0, nuis.mu1)}
    for family, name in OUTCOME_CHOICES.items():
        outcome_sets[family] = (nuis.candidates["outcome_control"][name], nuis.candidates["outcome_treated"][name])
    for family, (mu0, mu1) in outcome_sets.items():
        m0, m1 = mu0[kept], mu1[kept]
        psi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
        out[f"aipw_{family}"] = float(psi.mean()) - truth
        out[f"ra_{family}"] = float((m1 - m0).mean()) - truth
        if family == "auto":
            se = float(psi.std(ddof=1) / np.sqrt(len(psi)))
            out["covered"] = float(abs(psi.mean() - truth) <= 1.959964 * se)
    return out


@cache
def replications() -> pd.DataFrame:
    rows = []
    for name, make in CASES.items():
        for seed in range(REPLICATIONS):
            rows.append({"case": name, "seed": seed, **_plug_ins(make(N_UNITS, seed))})
    return pd.DataFrame(rows)


def _mae(case: str, column: str) -> float:
    frame = replications()
    return float(frame.loc[frame["case"] == case, column].abs().mean())


@pytest.mark.parametrize("case", list(CASES))
def test_aipw_with_chosen_models_is_as_accurate_as_with_the_best_fixed_outcome_model(case: str) -> None:
    """Choosing by out-of-fold loss finds the right family: never worse than fixing it (5 % for per-fold noise)."""
    best_fixed = min(_mae(case, "aipw_linear"), _mae(case, "aipw_gbm"))
    worst_fixed = max(_mae(case, "aipw_linear"), _mae(case, "aipw_gbm"))
    assert _mae(case, "aipw_auto") <= 1.05 * best_fixed
    assert _mae(case, "ra_auto") <= 1.05 * min(_mae(case, "ra_linear"), _mae(case, "ra_gbm"))
    assert best_fixed < worst_fixed


def test_non_linear_case_needs_boosting_and_linear_case_does_not() -> None:
    """The two cases really differ in which family is right, so the previous test is not vacuous."""
    assert _mae("nonlinear", "ra_gbm") < 0.7 * _mae("nonlinear", "ra_linear")
    assert _mae("linear", "ra_linear") < 0.9 * _mae("linear", "ra_gbm")


def test_coverage_of_the_95_percent_interval() -> None:
    frame = replications()
    assert frame["covered"].mean() >= 0.90
    assert frame.groupby("case")["covered"].mean().min() >= 0.85


def test_candidate_plug_ins_are_what_the_public_api_returns() -> None:
    case = linear_case(N_UNITS, 0)
    errors = _plug_ins(case)
    truth = case.true_ate()
    for family in ("linear", "gbm"):
        ra = estimate_effect(case.frame, "t", "y", case.covariates, "regression", outcome_model=family, refute=False)
        assert ra.estimate - truth == pytest.approx(errors[f"ra_{family}"], abs=1e-9)
    aipw = estimate_effect(case.frame, "t", "y", case.covariates, refute=False)
    assert aipw.estimate - truth == pytest.approx(errors["aipw_auto"], abs=1e-9)


def test_selection_is_reported_and_deterministic() -> None:
    case = nonlinear_case(N_UNITS, 3)
    first = estimate_effect(case.frame, "t", "y", case.covariates, refute=False, seed=5)
    again = estimate_effect(case.frame, "t", "y", case.covariates, refute=False, seed=5)
    assert first.estimate == again.estimate
    selection = first.diagnostics.nuisance_selection
    assert set(selection) == {"propensity", "outcome_control", "outcome_treated"}
    for choice in selection.values():
        assert len(choice.by_fold) == 5 and choice.chosen in choice.candidates
        assert set(choice.by_fold) <= set(choice.candidates)
        assert choice.candidates[choice.chosen] == min(choice.candidates.values())
        assert choice.candidates[choice.chosen] < choice.baseline  # covariates explain something here
    assert selection["propensity"].loss == "log_loss" and selection["outcome_control"].loss == "squared_error"
    payload = json.loads(json.dumps(first.to_dict()))
    reported = payload["diagnostics"]["nuisance_selection"]["outcome_treated"]
    assert reported["chosen"] == selection["outcome_treated"].chosen


def test_a_family_restricts_the_candidates() -> None:
    case = linear_case(N_UNITS, 1)
    est = estimate_effect(
        case.frame, "t", "y", case.covariates, propensity_model="logistic", outcome_model="gbm", refute=False
    )
    selection = est.diagnostics.nuisance_selection
    assert set(selection["outcome_control"].candidates) == {"gbm"}
    assert all(name.startswith("logistic(C=") for name in selection["propensity"].candidates)
    assert len(selection["propensity"].candidates) > 1  # the penalty is still cross-validated


def test_binary_outcome_chooses_by_log_loss() -> None:
    case = ihdp_like_case("A", 0)
    frame = case.frame.assign(y=case.frame["y"] > case.frame["y"].median())
    est = estimate_effect(frame, "t", "y", case.covariates, refute=False)
    choice = est.diagnostics.nuisance_selection["outcome_treated"]
    assert choice.loss == "log_loss" and "gbm" in choice.candidates
    assert any(name.startswith("logistic(C=") for name in choice.candidates)
    assert est.reliable and est.ci_low < est.estimate < est.ci_high


def test_refutations_reuse_the_main_fits_choices() -> None:
    """The random-common-cause refit has the same folds: it must use the same models fold by fold, so only the
    extra covariate can move the estimate."""
    case = nonlinear_case(N_UNITS, 2)
    est = estimate_effect(case.frame, "t", "y", case.covariates, seed=1)
    refutations = {r.name: r for r in est.diagnostics.refutations}
    assert all(r.passed for r in refutations.values()), [r.detail for r in refutations.values()]
    assert abs(refutations["random_common_cause"].delta) < 0.25 * est.std_error


def test_same_question_is_cross_fitted_once() -> None:
    """ATE, ATT and IPW on the same data share one cross-fit (the cache), and give what a fresh fit gives."""
    case = linear_case(N_UNITS, 4)
    args = (case.frame, "t", "y", case.covariates)
    ate = estimate_effect(*args, refute=False, seed=9)
    data = prepare(*args)
    cached = cross_fit(data.X, data.t, data.y, binary=False, n_folds=5, seed=9)
    assert cached is cross_fit(data.X, data.t, data.y, binary=False, n_folds=5, seed=9, fit_outcome=False)
    assert not cached.e.flags.writeable
    ipw = estimate_effect(*args, "ipw", refute=False, seed=9)
    assert ipw.diagnostics.overlap == ate.diagnostics.overlap  # the same propensities
    shifted = case.frame.assign(y=case.frame["y"] + case.frame["t"])  # new content: a new fit, one unit more effect
    moved = estimate_effect(shifted, "t", "y", case.covariates, refute=False, seed=9).estimate
    assert moved - ate.estimate == pytest.approx(1.0, abs=0.05)
