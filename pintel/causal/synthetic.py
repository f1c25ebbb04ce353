"""Synthetic observational data with known unit-level effects, for judging effect estimators.

The product simulator plants one effect in a rich event log; these small tables isolate the estimator: a few
hundred units, a handful of covariates, confounded treatment, and every unit's true effect ``tau`` returned
beside the data, so any estimate can be scored against the sample effect of exactly the units it used.

* :func:`linear_case` -- outcome and effect linear in the covariates, logistic assignment: the regime where a
  per-arm linear regression adjustment is correctly specified and hard to beat;
* :func:`nonlinear_case` -- sines, thresholds, a square and interactions in the outcome and the effect, and a
  threshold in the assignment: the regime where linear adjustment is biased;
* :func:`ihdp_like_case` -- the shape of Hill's (2011) IHDP benchmark (747 units, 139 treated, 6 continuous
  and 19 binary covariates; treated units removed by a trait the covariates correlate with) over *simulated*
  covariates, with Hill's response surfaces A (linear, constant effect 4) and B (exponential control surface,
  heterogeneous effect whose mean over the treated is 4). The real IHDP covariates are not shipped with pintel;
  ``benchmarks/bench_causal_synthetic.py`` uses the copy bundled with EconML when it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit


@dataclass(frozen=True)
class Case:
    """A data set with treatment ``t``, outcome ``y`` and covariates ``covariates``, and each unit's effect."""

    frame: pd.DataFrame
    covariates: list[str]
    tau: np.ndarray
    #: The true nuisances where the design defines them (the propensity ``e`` and the arms' mean outcomes
    #: ``mu0``/``mu1``), so a benchmark can show what an estimator does with perfect nuisance models; ``None``
    #: where assignment is not a propensity (IHDP's removed subgroup).
    e: np.ndarray | None = None
    mu0: np.ndarray | None = None
    mu1: np.ndarray | None = None

    def true_ate(self, units: np.ndarray | None = None) -> float:
        """Sample average effect over ``units`` (a boolean mask, e.g. those an estimate kept), else all."""
        return float(self.tau.mean() if units is None else self.tau[units].mean())


def _case(
    X: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    tau: np.ndarray,
    e: np.ndarray | None = None,
    mu0: np.ndarray | None = None,
) -> Case:
    covariates = [f"x{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=covariates).assign(t=t.astype(int), y=y)
    mu1 = None if mu0 is None else mu0 + tau
    return Case(frame, covariates, tau, e, mu0, mu1)


def _covariates(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Half standard-normal, half binary (a thresholded normal, about 38 % ones)."""
    X = rng.standard_normal((n, d))
    X[:, d // 2 :] = (X[:, d // 2 :] > 0.3).astype(float)
    return X


def linear_case(n: int = 400, seed: int = 0, d: int = 10) -> Case:
    rng = np.random.default_rng(seed)
    X = _covariates(rng, n, d)
    e = expit(-0.3 + X @ rng.uniform(-0.5, 0.5, d))
    t = rng.binomial(1, e)
    y0 = 1 + X @ rng.uniform(-1, 1, d)
    tau = 1 + X @ rng.uniform(-0.5, 0.5, d)
    return _case(X, t, y0 + t * tau + rng.standard_normal(n), tau, e, y0)


def nonlinear_case(n: int = 400, seed: int = 0, d: int = 10) -> Case:
    rng = np.random.default_rng(seed)
    X = _covariates(rng, n, d)
    e = expit(-0.2 + 0.8 * X[:, 0] - 0.5 * X[:, 1] + 0.6 * X[:, 5] + 0.5 * (X[:, 2] > 0.5))
    t = rng.binomial(1, e)
    y0 = 2 * np.sin(1.5 * X[:, 0]) + X[:, 1] ** 2 + 1.5 * (X[:, 2] > 0) * X[:, 5] + np.abs(X[:, 3]) + X[:, 6]
    tau = 1 + np.maximum(X[:, 0], 0) + 0.8 * X[:, 1] * X[:, 7]
    return _case(X, t, y0 + t * tau + rng.standard_normal(n), tau, e, y0)


IHDP_UNITS, IHDP_TREATED, IHDP_CONTINUOUS, IHDP_BINARY = 747, 139, 6, 19


def ihdp_like_covariates(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Covariates and treatment with IHDP's shape: a randomised trial whose treated arm lost a subgroup.

    In IHDP the treated children of non-white mothers were removed (the trait itself is not a covariate,
    but many covariates differ by it), which unbalances the arms on observed covariates only.
    """
    rng = np.random.default_rng(seed)
    n_total = 985
    trait = rng.random(n_total) < 0.5
    shift = np.where(trait, 0.4, -0.4)[:, None]
    continuous = rng.standard_normal((n_total, IHDP_CONTINUOUS)) + shift * rng.uniform(0.2, 1.0, IHDP_CONTINUOUS)
    logits = rng.normal(-0.8, 0.8, IHDP_BINARY) + shift * rng.uniform(-1.0, 1.0, IHDP_BINARY)
    binary = (rng.random((n_total, IHDP_BINARY)) < expit(logits)).astype(float)
    treated = np.zeros(n_total, dtype=bool)
    treated[rng.choice(n_total, 377, replace=False)] = True
    # drop treated units without the trait until IHDP's 139 treated remain
    drop = rng.permutation(np.flatnonzero(treated & ~trait))[: 377 - IHDP_TREATED]
    drop = np.r_[drop, rng.permutation(np.flatnonzero(treated & trait))[: max(0, 377 - IHDP_TREATED - len(drop))]]
    keep = np.ones(n_total, dtype=bool)
    keep[drop] = False
    keep[rng.permutation(np.flatnonzero(keep & ~treated))[: int(keep.sum()) - IHDP_UNITS]] = False
    X = np.column_stack([continuous, binary])[keep]
    X[:, :IHDP_CONTINUOUS] = (X[:, :IHDP_CONTINUOUS] - X[:, :IHDP_CONTINUOUS].mean(0)) / X[:, :IHDP_CONTINUOUS].std(0)
    return X, treated[keep].astype(int)


def hill_surface(X: np.ndarray, t: np.ndarray, surface: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hill (2011) response surfaces over covariates ``X`` (no intercept column); returns (y, tau).

    A: y = X beta + 4 t + noise, beta drawn from {0, .., 4} with probabilities (.5, .2, .15, .1, .05).
    B: y(0) = exp((X + 0.5) beta), y(1) = X beta - omega, beta from {0, .1, .., .4} (.6, .1, .1, .1, .1),
    omega set so that the average effect on the treated is 4.
    """
    n, d = X.shape
    Xc = np.column_stack([np.ones(n), X])
    if surface == "A":
        beta = rng.choice([0, 1, 2, 3, 4], size=d + 1, p=[0.5, 0.2, 0.15, 0.1, 0.05])
        tau = np.full(n, 4.0)
        return Xc @ beta + 4 * t + rng.standard_normal(n), tau
    if surface != "B":
        raise ValueError(f"surface must be 'A' or 'B', got {surface!r}")
    beta = rng.choice([0, 0.1, 0.2, 0.3, 0.4], size=d + 1, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    offset = np.r_[0.0, np.full(d, 0.5)]
    y0 = np.exp((Xc + offset) @ beta)
    lin = Xc @ beta
    omega = float(np.mean((lin - y0)[t == 1]) - 4)
    y1 = lin - omega
    tau = y1 - y0
    return np.where(t == 1, y1, y0) + rng.standard_normal(n), tau


def ihdp_like_case(surface: str = "B", seed: int = 0, X: np.ndarray | None = None, t: np.ndarray | None = None) -> Case:
    """Hill's surface over IHDP-shaped simulated covariates, or over given ``X``, ``t`` (e.g. the real ones)."""
    if X is None or t is None:
        X, t = ihdp_like_covariates(seed)
    y, tau = hill_surface(X, t, surface, np.random.default_rng(seed + 1))
    return _case(X, t, y, tau)
