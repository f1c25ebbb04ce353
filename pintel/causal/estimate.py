"""``estimate_effect``: one call from a DataFrame to an effect estimate a product team can act on.

The flow is deliberately fixed -- prepare -> cross-fit nuisances -> trim to the overlap region ->
score -> diagnose -> refute -- so that every number leaves with the evidence needed to judge it,
and a number that should not be trusted says so (``reliable = False`` plus a loud warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pintel.causal import estimators
from pintel.causal.data import PreparedData, prepare
from pintel.causal.diagnostics import (
    Diagnostics,
    assess,
    balance,
    overlap,
    to_jsonable,
    trim_mask,
)
from pintel.causal.estimators import ESTIMANDS, METHODS, NaiveEstimate, Score
from pintel.causal.nuisance import OUTCOME_MODELS, PROPENSITY_MODELS, Nuisance, cross_fit
from pintel.causal.refute import run_all as run_refutations

UNRELIABLE = "UNRELIABLE"


@dataclass(frozen=True)
class EffectEstimate:
    """A causal effect with its 95 % CI and the evidence behind it.

    ``n`` / ``n_treated`` count the units the estimate actually uses (after dropping missing
    rows and trimming); ``naive`` is the unadjusted difference in means on all complete rows.
    ``reliable`` is False when overlap is too poor or the placebo test fails -- then the numbers are
    reported for inspection only and ``warnings`` says why.
    """

    estimate: float
    ci_low: float
    ci_high: float
    std_error: float
    p_value: float
    method: str
    estimand: str
    n: int
    n_treated: int
    naive: NaiveEstimate
    diagnostics: Diagnostics
    reliable: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))

    def summary(self) -> str:
        flag = "" if self.reliable else f"{UNRELIABLE} -- "
        return (
            f"{flag}{self.method.upper()} {self.estimand.upper()} = {self.estimate:.4g} "
            f"(95 % CI {self.ci_low:.4g} to {self.ci_high:.4g}, p = {self.p_value:.3g}, n = {self.n}); "
            f"naive difference {self.naive.estimate:.4g}"
        )


@dataclass(frozen=True)
class _Config:
    method: str
    estimand: str
    n_folds: int
    seed: int
    trim: tuple[float, float]
    propensity_model: str
    outcome_model: str


@dataclass(frozen=True)
class _Fit:
    score: Score
    nuisance: Nuisance
    kept: np.ndarray

    @property
    def e(self) -> np.ndarray:
        return self.nuisance.e


def _fit(data: PreparedData, cfg: _Config, frozen: dict[str, tuple[str, ...]] | None = None) -> _Fit:
    """Cross-fit, trim and score once. Used for the main estimate, refutations and bootstrap.

    ``frozen`` reuses the main fit's model choices (refutations): a refutation asks whether the estimate
    moves when the data is perturbed, not whether cross-validation would pick another model.
    """
    need_outcome = cfg.method in ("aipw", "regression")
    nuis = cross_fit(
        data.X,
        data.t,
        data.y,
        binary=data.binary_outcome,
        n_folds=cfg.n_folds,
        seed=cfg.seed,
        propensity=cfg.propensity_model,
        outcome=cfg.outcome_model,
        fit_outcome=need_outcome,
        groups=data.groups,
        frozen=frozen,
    )
    if cfg.method == "naive":
        kept = np.ones(data.n, dtype=bool)
        return _Fit(estimators.naive_score(data.t, data.y), nuis, kept)
    kept = trim_mask(nuis.e, cfg.trim, cfg.estimand)
    t, y, e = data.t[kept], data.y[kept], nuis.e[kept]
    if t.sum() < 2 or (1 - t).sum() < 2:
        raise ValueError(
            f"overlap too poor to estimate anything: after trimming propensities to {cfg.trim} "
            f"only {int(t.sum())} treated and {int((1 - t).sum())} control units remain"
        )
    if cfg.method == "ipw":
        score = estimators.ipw(t, y, e, cfg.estimand)
    elif cfg.method == "aipw":
        score = estimators.aipw(t, y, e, nuis.mu0[kept], nuis.mu1[kept], cfg.estimand)
    else:
        score = estimators.regression(t, y, e, nuis.mu0[kept], nuis.mu1[kept], cfg.estimand)
    return _Fit(score, nuis, kept)


def _validate_options(cfg: _Config, on_unreliable: str) -> None:
    if cfg.method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {cfg.method!r}")
    if cfg.estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {cfg.estimand!r}")
    lo, hi = cfg.trim
    if not 0 <= lo < 0.5 < hi <= 1:
        raise ValueError(f"trim must satisfy 0 <= low < 0.5 < high <= 1, got {cfg.trim}")
    if cfg.n_folds < 2:
        raise ValueError("n_folds must be at least 2 (cross-fitting needs held-out folds)")
    if cfg.propensity_model not in PROPENSITY_MODELS:
        raise ValueError(f"propensity_model must be one of {PROPENSITY_MODELS}, got {cfg.propensity_model!r}")
    if cfg.outcome_model not in OUTCOME_MODELS:
        raise ValueError(f"outcome_model must be one of {OUTCOME_MODELS}, got {cfg.outcome_model!r}")
    if on_unreliable not in ("warn", "raise"):
        raise ValueError(f"on_unreliable must be 'warn' or 'raise', got {on_unreliable!r}")


def _bootstrap_se(data: PreparedData, cfg: _Config, n_bootstrap: int) -> float:
    """SD of the estimate over resamples that redo cross-fitting and trimming each time."""
    rng = np.random.default_rng(cfg.seed + 104729)
    draws = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, data.n, size=data.n)
        try:
            draws.append(_fit(data.take(idx, as_groups=True), cfg).score.estimate)
        except ValueError:
            continue  # a degenerate resample (arm too small for the folds) carries no information
    if len(draws) < max(10, n_bootstrap // 2):
        raise ValueError("bootstrap failed: too many degenerate resamples; use n_bootstrap=0")
    return float(np.std(draws, ddof=1))


def estimate_effect(
    df: pd.DataFrame,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    method: str = "aipw",
    estimand: str = "ate",
    *,
    n_folds: int = 5,
    seed: int = 0,
    trim: tuple[float, float] = (0.01, 0.99),
    n_bootstrap: int = 0,
    refute: bool = True,
    propensity_model: str = "logistic",
    outcome_model: str = "auto",
    on_unreliable: str = "warn",
) -> EffectEstimate:
    """Estimate the effect of a binary ``treatment`` on ``outcome`` adjusting for ``covariates``.

    Args:
        df: any DataFrame; see :mod:`pintel.causal.data` for how columns are cleaned.
        method: ``"aipw"`` (default; doubly robust, cross-fitted), ``"ipw"`` (Hajek weighting),
            ``"regression"`` (g-computation) or ``"naive"`` (difference in means).
        estimand: ``"ate"`` (whole population) or ``"att"`` (the treated -- usually the question
            for a shipped feature: "what did it do for those who used it?").
        trim: propensity bounds. Units outside are dropped (Crump et al. 2009 style) rather than
            having their propensity clipped: clipping hides the lack of comparable units behind a
            biased number, dropping changes the population and says so in ``warnings``.
        n_bootstrap: 0 uses the influence-function SE; > 0 replaces it with a bootstrap SE that
            refits every nuisance model per resample (slow, for small data or as a check).
        refute: run placebo / random-common-cause / subset refutations (each re-estimates).
        propensity_model, outcome_model: ``"auto"`` chooses each nuisance model by cross-validated
            loss among regularised linear models and gradient boosting, inside the cross-fitting; a family
            name (``"logistic"`` / ``"linear"``, ``"gbm"``) restricts the choice to it. Defaults: outcome
            ``"auto"``; propensity ``"logistic"`` (L2 logistic, penalty chosen by out-of-fold log loss):
            a boosted propensity wins on log loss on product data and then pushes e(x) to 0/1, which
            explodes the inverse weights (on the simulator's feature-impact rows it widened intervals up
            to fivefold), so boosting is opt-in for the propensity.
            What was chosen, with every candidate's out-of-fold loss, is in
            ``diagnostics.nuisance_selection``. See :mod:`pintel.causal.selection`.
        on_unreliable: what to do when overlap is too poor (over half the units trimmed, an arm's
            effective sample size under 10, IPW weights that leave |SMD| > 0.25) or the placebo
            fails: ``"warn"`` returns ``reliable=False`` with an ``UNRELIABLE`` warning first in
            ``warnings``; ``"raise"`` raises ``ValueError``. Never a silent, confident number.

    Raises:
        ValueError: missing columns, non-binary or constant treatment, fewer than 10 units in an arm,
            non-numeric outcome, or (always) an arm emptied by trimming.
    """
    bounds = (float(trim[0]), float(trim[1]))
    cfg = _Config(method, estimand, n_folds, seed, bounds, propensity_model, outcome_model)
    _validate_options(cfg, on_unreliable)
    data = prepare(df, treatment, outcome, covariates)
    if min(int(data.t.sum()), int((1 - data.t).sum())) < n_folds:
        raise ValueError(f"each arm needs at least n_folds={n_folds} units for cross-fitting")
    warnings = list(data.warnings)

    fit = _fit(data, cfg)
    score, e, kept = fit.score, fit.e, fit.kept
    t_kept = data.t[kept]

    ov = overlap(data.t, e, kept, cfg.trim, estimand)
    bal = balance(data.X, data.t, e, kept, estimand)
    overlap_warnings, unreliable = assess(ov, bal, method, t_kept)
    warnings.extend(overlap_warnings)
    if unreliable and on_unreliable == "raise":
        raise ValueError("estimate is not reliable: " + "; ".join(unreliable))

    se_method = "influence_function"
    se = score.std_error
    if n_bootstrap > 0:
        se, se_method = _bootstrap_se(data, cfg, n_bootstrap), f"bootstrap({n_bootstrap})"

    refutations = []
    if refute:

        def refit(perturbed: PreparedData) -> Score:
            # Same treatment vector and rows => same folds, so the fold-by-fold choices carry over exactly.
            same_folds = perturbed.groups is None and np.array_equal(perturbed.t, data.t)
            return _fit(perturbed, cfg, fit.nuisance.frozen(same_folds=same_folds)).score

        refutations = run_refutations(data, refit, score, seed)
        for r in refutations:
            if not r.passed:
                warnings.append(f"refutation '{r.name}' failed: {r.detail}")
                if r.name == "placebo_treatment":
                    unreliable.append("the placebo treatment produced a significant effect")

    if unreliable and on_unreliable == "raise":
        raise ValueError("estimate is not reliable: " + "; ".join(unreliable))
    for reason in unreliable:
        warnings.insert(0, f"{UNRELIABLE}: {reason}; do not act on this estimate")

    z = stats.norm.ppf(0.975)
    p_value = float(2 * stats.norm.sf(abs(score.estimate / se))) if se > 0 else float("nan")
    diagnostics = Diagnostics(
        overlap=ov,
        balance=bal,
        refutations=refutations,
        n_input=data.n_input,
        n_dropped_missing=data.n_dropped_missing,
        se_method=se_method,
        propensity_model=propensity_model,
        outcome_model=outcome_model,
        nuisance_selection=fit.nuisance.selection,
        reliable=not unreliable,
        warnings=list(warnings),
    )
    return EffectEstimate(
        estimate=score.estimate,
        ci_low=score.estimate - z * se,
        ci_high=score.estimate + z * se,
        std_error=se,
        p_value=p_value,
        method=method,
        estimand=estimand,
        n=int(kept.sum()),
        n_treated=int(t_kept.sum()),
        naive=estimators.naive(data.t, data.y),
        diagnostics=diagnostics,
        reliable=not unreliable,
        warnings=warnings,
    )
