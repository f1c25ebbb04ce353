"""Always-valid inference for the difference in means: a normal-mixture confidence sequence.

Fixed-horizon CIs are only valid if the experiment is read once, at a sample size fixed in
advance. Product teams peek daily; every peek at a fixed CI inflates the false-positive rate. The
mixture SPRT (Robbins 1970; Johari et al. 2017, "Peeking at A/B tests") and its confidence-sequence
form (Howard et al. 2021) stay valid at every sample size simultaneously: with a N(0, tau^2)
mixture over the effect and an (asymptotically) normal estimate D with variance V,

    Lambda(theta) = sqrt(V / (V + tau^2)) * exp(tau^2 (D - theta)^2 / (2 V (V + tau^2)))

is a nonnegative martingale under theta, so by Ville's inequality {theta : Lambda(theta) < 1/alpha}
covers the truth at all times with probability >= 1 - alpha, giving radius

    r(V) = sqrt(2 V (V + tau^2) / tau^2 * (log(1/alpha) + log((V + tau^2) / V) / 2)).

tau^2 decides where the sequence is tightest. For a target variance V* the radius is
sqrt(V*) times a function of k = tau^2 / V* only, so the optimal k depends on alpha alone; we find it
numerically once and set tau^2 = k V*, with V* the variance at the planned sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import optimize


@dataclass(frozen=True)
class ConfidenceSequence:
    """Always-valid interval for the difference and the matching always-valid p-value (H0: 0)."""

    ci_low: float
    ci_high: float
    p_value: float
    tau2: float


def _radius(v: float, tau2: float, alpha: float) -> float:
    return float(np.sqrt(2 * v * (v + tau2) / tau2 * (np.log(1 / alpha) + 0.5 * np.log((v + tau2) / v))))


@cache
def optimal_mixture_ratio(alpha: float) -> float:
    """k = tau^2 / V* minimising the radius at V* (independent of V* itself)."""
    res = optimize.minimize_scalar(lambda u: _radius(1.0, float(np.exp(u)), alpha), bounds=(-10, 10), method="bounded")
    return float(np.exp(res.x))


def confidence_sequence(diff: float, var: float, alpha: float, var_target: float | None = None) -> ConfidenceSequence:
    """Confidence sequence for a difference ``diff`` with sampling variance ``var``.

    ``var_target`` is the variance expected at the planned sample size; by default the current one,
    which makes the sequence tightest now (right for a final read; keep it fixed across peeks).
    """
    if not var > 0:
        return ConfidenceSequence(diff, diff, float("nan"), float("nan"))
    tau2 = optimal_mixture_ratio(alpha) * (var_target if var_target and var_target > 0 else var)
    r = _radius(var, tau2, alpha)
    log_lambda = 0.5 * np.log(var / (var + tau2)) + tau2 * diff**2 / (2 * var * (var + tau2))
    p_value = float(min(1.0, np.exp(-log_lambda)))
    return ConfidenceSequence(diff - r, diff + r, p_value, float(tau2))
