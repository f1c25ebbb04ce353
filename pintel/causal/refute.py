"""Refutation tests (in the spirit of DoWhy's refuters) run by re-estimating on perturbed data.

None of them can prove an estimate right; each can catch a specific way of being wrong:

* placebo treatment -- permute the treatment. Any real effect is destroyed, so an estimate far
  from 0 means the pipeline manufactures effects (leakage, overfit nuisances, a bug). Passes if
  the placebo's own z-test does not reject at ``PLACEBO_ALPHA``.
* random common cause -- add an independent random covariate. Adjusting for noise must not move
  the estimate; a large move means the estimate rides on model instability.
* data subset -- re-estimate on random 80 % subsets. The mean shift should be small relative to
  the original standard error; a large one means a few units drive the answer.

Thresholds are in units of the original standard error so they scale with the problem.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from pintel.causal.data import PreparedData
from pintel.causal.diagnostics import Refutation
from pintel.causal.estimators import Score

Fit = Callable[[PreparedData], Score]

PLACEBO_ALPHA = 0.01
RANDOM_CAUSE_MAX_SHIFT_SE = 0.5
SUBSET_MAX_SHIFT_SE = 1.0
SUBSET_FRACTION = 0.8


def _z_p_value(score: Score) -> float:
    se = score.std_error
    if not se > 0:
        return float("nan")
    return float(2 * stats.norm.sf(abs(score.estimate / se)))


def placebo_treatment(data: PreparedData, fit: Fit, original: Score, rng: np.random.Generator) -> Refutation:
    placebo = fit(data.with_treatment(rng.permutation(data.t)))
    p = _z_p_value(placebo)
    return Refutation(
        name="placebo_treatment",
        estimate=placebo.estimate,
        original=original.estimate,
        delta=placebo.estimate - original.estimate,
        p_value=p,
        passed=bool(p >= PLACEBO_ALPHA),
        detail=(
            f"permuted treatment gives {placebo.estimate:.4g} (SE {placebo.std_error:.3g}, p = {p:.3f}); expected ~0"
        ),
    )


def random_common_cause(data: PreparedData, fit: Fit, original: Score, rng: np.random.Generator) -> Refutation:
    refit = fit(data.with_covariate("__random_common_cause__", rng.standard_normal(data.n)))
    shift = (refit.estimate - original.estimate) / original.std_error
    return Refutation(
        name="random_common_cause",
        estimate=refit.estimate,
        original=original.estimate,
        delta=refit.estimate - original.estimate,
        p_value=None,
        passed=bool(abs(shift) <= RANDOM_CAUSE_MAX_SHIFT_SE),
        detail=(f"adding a random covariate moved the estimate by {shift:+.2f} SE (limit {RANDOM_CAUSE_MAX_SHIFT_SE})"),
    )


def data_subset(
    data: PreparedData, fit: Fit, original: Score, rng: np.random.Generator, n_subsets: int = 3
) -> Refutation:
    size = round(SUBSET_FRACTION * data.n)
    estimates = []
    for _ in range(n_subsets):
        idx = np.sort(rng.choice(data.n, size=size, replace=False))
        estimates.append(fit(data.take(idx)).estimate)
    mean = float(np.mean(estimates))
    shift = (mean - original.estimate) / original.std_error
    spread = float(np.std(estimates, ddof=1)) if n_subsets > 1 else 0.0
    return Refutation(
        name="data_subset",
        estimate=mean,
        original=original.estimate,
        delta=mean - original.estimate,
        p_value=None,
        passed=bool(abs(shift) <= SUBSET_MAX_SHIFT_SE),
        detail=(
            f"{n_subsets} random {SUBSET_FRACTION:.0%} subsets: mean {mean:.4g} (sd {spread:.3g}), "
            f"{shift:+.2f} SE from the full-sample estimate (limit {SUBSET_MAX_SHIFT_SE})"
        ),
    )


def run_all(data: PreparedData, fit: Fit, original: Score, seed: int) -> list[Refutation]:
    """Run every refuter; one that cannot run (e.g. a subset loses an arm) is reported as failed."""
    rng = np.random.default_rng(seed + 7919)
    results = []
    for name, refuter in (
        ("placebo_treatment", placebo_treatment),
        ("random_common_cause", random_common_cause),
        ("data_subset", data_subset),
    ):
        try:
            results.append(refuter(data, fit, original, rng))
        except ValueError as exc:
            nan = float("nan")
            failed = Refutation(name, nan, original.estimate, nan, None, False, f"could not run: {exc}")
            results.append(failed)
    return results
