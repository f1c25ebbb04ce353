"""Recovery and robustness tests for ``pintel.causal.estimate_effect`` on simulated observational data.

The simulations know both potential outcomes, so the true ATE and ATT are computed exactly from
them; confounding is strong enough that the naive difference in means is far off.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pintel.causal import EffectEstimate, estimate_effect

COVARIATES = ["x1", "x2", "segment", "x4"]


def simulate(n: int = 4_000, seed: int = 0, overlap: float = 1.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Confounded data: x1 raises both treatment uptake and the outcomes; effects grow with x1.

    ``segment`` is categorical, ``x4`` has 10 % missing values, ``overlap`` scales the propensity
    logit (large values push propensities to 0/1).
    """
    rng = np.random.default_rng(seed)
    x1, x2, x4 = rng.standard_normal((3, n))
    segment = rng.choice(np.array(["web", "ios", "android"]), size=n, p=[0.5, 0.3, 0.2])
    ios, android = (segment == "ios").astype(float), (segment == "android").astype(float)
    e = expit(overlap * (-0.3 + 0.9 * x1 - 0.6 * x2 + 0.8 * ios - 0.6 * android + 0.3 * x4))
    t = rng.binomial(1, e)

    y0 = 1 + 2 * x1 + x2 + 1.5 * ios - android + 0.5 * x1**2 + 0.5 * x4
    tau = 1 + 1.5 * x1 + 0.5 * ios
    y = np.where(t == 1, y0 + tau, y0) + rng.standard_normal(n)

    lin = -0.8 + 0.8 * x1 + 0.5 * x2 + 0.6 * ios + 0.3 * x4
    p0, p1 = expit(lin), expit(lin + 1.0 + 0.5 * x1)
    converted = rng.binomial(1, np.where(t == 1, p1, p0)).astype(bool)

    df = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "segment": segment,
            "x4": np.where(rng.random(n) < 0.1, np.nan, x4),
            "treated": t,
            "revenue": y,
            "converted": converted,
        }
    )
    treated = t == 1
    truth = {
        "revenue_ate": float(tau.mean()),
        "revenue_att": float(tau[treated].mean()),
        "converted_ate": float((p1 - p0).mean()),
        "converted_att": float((p1 - p0)[treated].mean()),
    }
    return df, truth


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, dict[str, float]]:
    return simulate()


@pytest.fixture(scope="module")
def fits(data) -> dict[tuple[str, str, str], EffectEstimate]:
    """Every (outcome, method, estimand) fit the tests need, computed once."""
    df, _ = data
    out = {}
    for outcome in ("revenue", "converted"):
        for method in ("aipw", "ipw"):
            for estimand in ("ate", "att"):
                with_refutations = outcome == "revenue" and method == "aipw" and estimand == "ate"
                out[outcome, method, estimand] = estimate_effect(
                    df, "treated", outcome, COVARIATES, method, estimand, refute=with_refutations
                )
    return out


@pytest.mark.parametrize("outcome", ["revenue", "converted"])
@pytest.mark.parametrize("method", ["aipw", "ipw"])
@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_truth_inside_ci(fits, data, outcome: str, method: str, estimand: str) -> None:
    truth = data[1][f"{outcome}_{estimand}"]
    est = fits[outcome, method, estimand]
    assert est.ci_low <= truth <= est.ci_high, (est.estimate, truth)
    assert est.reliable
    assert est.ci_low < est.estimate < est.ci_high
    assert est.std_error > 0 and 0 <= est.p_value <= 1


@pytest.mark.parametrize("outcome", ["revenue", "converted"])
def test_aipw_close_and_naive_biased(fits, data, outcome: str) -> None:
    truth = data[1][f"{outcome}_ate"]
    est = fits[outcome, "aipw", "ate"]
    assert abs(est.estimate - truth) <= 0.2 * abs(truth)
    naive = est.naive
    assert not naive.ci_low <= truth <= naive.ci_high
    assert abs(naive.estimate - truth) > 3 * abs(est.estimate - truth)
    assert abs(naive.estimate - truth) > 0.5 * abs(truth)


def test_att_differs_from_ate_and_each_recovered(fits, data) -> None:
    truth = data[1]
    ate, att = fits["revenue", "aipw", "ate"], fits["revenue", "aipw", "att"]
    assert truth["revenue_att"] - truth["revenue_ate"] > 0.4
    assert att.ci_low > ate.ci_high  # the two estimands are told apart, not just different numbers
    assert abs(att.estimate - truth["revenue_att"]) <= 0.2 * truth["revenue_att"]
    assert att.estimand == "att" and att.n_treated == int(data[0]["treated"].sum())


def test_refutations(fits) -> None:
    est = fits["revenue", "aipw", "ate"]
    refutations = {r.name: r for r in est.diagnostics.refutations}
    assert set(refutations) == {"placebo_treatment", "random_common_cause", "data_subset"}
    placebo = refutations["placebo_treatment"]
    assert abs(placebo.estimate) < 3 * est.std_error
    assert placebo.p_value is not None and placebo.p_value > 0.01
    assert all(r.passed for r in refutations.values())
    assert abs(refutations["random_common_cause"].delta) < 0.5 * est.std_error


def test_diagnostics_content_and_json(fits, data) -> None:
    est = fits["revenue", "aipw", "ate"]
    diag = est.diagnostics
    assert diag.n_input == len(data[0]) and diag.n_dropped_missing == 0
    assert diag.overlap.treated.min < diag.overlap.treated.quantiles["q50"] < diag.overlap.treated.max
    assert diag.overlap.control.quantiles["q50"] < diag.overlap.treated.quantiles["q50"]
    # categorical levels are one-hot columns; missing numerics get an indicator
    assert {"segment=ios", "segment=web", "x4", "x4__missing"} <= set(diag.balance.smd_before)
    assert diag.balance.max_abs_smd_before > 0.3
    assert diag.balance.max_abs_smd_after < diag.balance.max_abs_smd_before / 2
    payload = json.loads(json.dumps(est.to_dict()))
    assert payload["diagnostics"]["overlap"]["n_trimmed"] == diag.overlap.n_trimmed
    assert json.dumps(diag.to_dict())
    assert "AIPW ATE" in est.summary()


def test_regression_and_naive_methods(data) -> None:
    df, truth = data
    reg = estimate_effect(df, "treated", "revenue", COVARIATES, "regression", refute=False)
    assert reg.ci_low <= truth["revenue_ate"] <= reg.ci_high
    naive = estimate_effect(df, "treated", "revenue", COVARIATES, "naive", refute=False)
    assert naive.estimate == pytest.approx(naive.naive.estimate)


def test_bootstrap_standard_error(data) -> None:
    df, truth = data
    est = estimate_effect(df, "treated", "revenue", COVARIATES, "ipw", n_bootstrap=30, refute=False)
    assert est.diagnostics.se_method == "bootstrap(30)"
    assert est.ci_low <= truth["revenue_ate"] <= est.ci_high


def test_poor_overlap_is_trimmed_and_warned() -> None:
    df, _ = simulate(n=3_000, seed=1, overlap=3.0)
    est = estimate_effect(df, "treated", "revenue", COVARIATES, "aipw", refute=False)
    ov = est.diagnostics.overlap
    assert ov.n_trimmed > 0 and ov.share_outside > 0
    assert ov.n_trimmed_treated + ov.n_trimmed_control == ov.n_trimmed
    assert est.n == len(df) - ov.n_trimmed
    assert any("trimmed" in w for w in est.warnings)
    assert est.diagnostics.warnings == est.warnings


def test_extremely_poor_overlap_is_unreliable() -> None:
    df, _ = simulate(n=3_000, seed=2, overlap=12.0)
    est = estimate_effect(df, "treated", "revenue", COVARIATES, "ipw", refute=False)
    assert not est.reliable and not est.diagnostics.reliable
    assert est.warnings[0].startswith("UNRELIABLE")
    assert est.summary().startswith("UNRELIABLE")
    with pytest.raises(ValueError, match="not reliable"):
        estimate_effect(df, "treated", "revenue", COVARIATES, "ipw", refute=False, on_unreliable="raise")


def test_lalonde_style_selection() -> None:
    """A small job-training-like sample: 185 treated vs 2 490 very different controls.

    The naive comparison has the wrong sign; AIPW-ATT recovers the effect, and the ATE (which would
    need treated-like units among controls and vice versa) is declared unreliable.
    """
    rng = np.random.default_rng(0)
    n_t, n_c = 185, 2_490
    treated = np.r_[np.ones(n_t), np.zeros(n_c)].astype(int)
    age = np.where(treated, rng.normal(26, 7, n_t + n_c), rng.normal(35, 10, n_t + n_c)).clip(17, 55)
    married = rng.binomial(1, np.where(treated, 0.19, 0.87))
    race = np.where(rng.random(n_t + n_c) < np.where(treated, 0.84, 0.25), "black", "other")
    zero74 = rng.random(n_t + n_c) < np.where(treated, 0.7, 0.1)
    re74 = np.where(zero74, 0.0, rng.gamma(np.where(treated, 1.0, 2.5), 7_000))
    effect = 1_800 + 0.05 * (re74 - 2_000)
    noise = rng.normal(0, 4_000, n_t + n_c)
    y0 = np.maximum(0, 3_000 + 0.6 * re74 - 30 * (age - 30) ** 2 / 10 + 1_500 * married + noise)
    y1 = np.maximum(0, 3_000 + 0.6 * re74 - 30 * (age - 30) ** 2 / 10 + 1_500 * married + effect + noise)
    df = pd.DataFrame({"treat": treated, "age": age, "married": married.astype(bool), "race": race, "re74": re74})
    df["re78"] = np.where(treated == 1, y1, y0)
    covs = ["age", "married", "race", "re74"]
    true_att = float((y1 - y0)[treated == 1].mean())

    att = estimate_effect(df, "treat", "re78", covs, "aipw", "att", refute=False)
    assert att.naive.estimate < 0 < true_att
    assert att.ci_low <= true_att <= att.ci_high
    ate = estimate_effect(df, "treat", "re78", covs, "aipw", "ate", refute=False)
    assert not ate.reliable


def test_missing_outcome_rows_dropped_with_warning(data) -> None:
    df = data[0].copy()
    df.loc[df.index[:25], "revenue"] = np.nan
    df.loc[df.index[25:30], "treated"] = np.nan
    est = estimate_effect(df, "treated", "revenue", COVARIATES, "ipw", refute=False)
    assert est.diagnostics.n_dropped_missing == 30
    assert any("dropped 30 of" in w for w in est.warnings)


def test_bool_treatment_and_category_dtype(data) -> None:
    df = data[0].assign(treated=lambda d: d["treated"].astype(bool), segment=lambda d: d["segment"].astype("category"))
    est = estimate_effect(df, "treated", "revenue", COVARIATES, "ipw", refute=False)
    assert est.reliable and est.n_treated == int(df["treated"].sum())


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.assign(treated=0), "no variation"),
        (lambda d: d.assign(treated=1), "no variation"),
        (lambda d: d.assign(treated=d["treated"] * 2), "binary"),
        (lambda d: d.assign(treated=np.where(d["treated"] == 1, "yes", "no")), "binary"),
        (lambda d: d.assign(revenue="lots"), "numeric or bool"),
        (lambda d: d.drop(columns="x2"), "not found"),
        (lambda d: d.iloc[:0], "empty"),
        (lambda d: d.assign(treated=np.r_[np.ones(5), np.zeros(len(d) - 5)]), "too few units"),
    ],
)
def test_bad_input_raises(data, mutate, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_effect(mutate(data[0]), "treated", "revenue", COVARIATES, refute=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"method": "magic"}, "method"), ({"estimand": "cate"}, "estimand"), ({"trim": (0.6, 0.9)}, "trim")],
)
def test_bad_options_raise(data, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_effect(data[0], "treated", "revenue", COVARIATES, refute=False, **kwargs)


def test_alternative_nuisance_models() -> None:
    df, truth = simulate(n=1_500, seed=3)
    est = estimate_effect(
        df, "treated", "revenue", COVARIATES, propensity_model="gbm", outcome_model="linear", refute=False
    )
    assert est.diagnostics.propensity_model == "gbm" and est.diagnostics.outcome_model == "linear"
    assert est.ci_low <= truth["revenue_ate"] <= est.ci_high
