"""CUPED (Deng et al. 2013): use a pre-experiment covariate to remove outcome noise.

Y_adj = Y - theta (X - mean X) with theta = cov(Y, X) / var(X). Because X is measured before
assignment it is independent of the arm, so the adjustment leaves every arm's expected value -- and
hence the lift -- unchanged while removing the share of variance X explains (corr(Y, X)^2).

theta is pooled over all units of all arms: one coefficient for everyone keeps the adjustment a
fixed transformation of the data (no arm-specific fitting that could absorb part of the effect),
and is what the original paper and most platforms do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CupedFit:
    """The pooled coefficient and the centre of the covariate."""

    theta: float
    x_mean: float
    n_imputed: int


def fit_theta(y: np.ndarray, x: np.ndarray) -> CupedFit | None:
    """Pooled theta, or None when X is unusable (all missing or constant) and CUPED must be skipped.

    Units with a missing covariate (typically new users with no pre-period) are left unadjusted:
    their X is set to the mean, which is still a fixed, arm-independent transformation.
    """
    observed = ~np.isnan(x)
    if observed.sum() < 3 or np.ptp(x[observed]) == 0:
        return None
    cov = np.cov(y[observed], x[observed], ddof=1)
    return CupedFit(
        theta=float(cov[0, 1] / cov[1, 1]),
        x_mean=float(x[observed].mean()),
        n_imputed=int((~observed).sum()),
    )


def adjust(y: np.ndarray, x: np.ndarray, fit: CupedFit) -> np.ndarray:
    centred = np.where(np.isnan(x), 0.0, x - fit.x_mean)
    return y - fit.theta * centred
