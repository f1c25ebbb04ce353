"""The statistics behind decisions: a rate difference-in-differences clustered by user, its small-count check,
a two-proportion interval for holdout comparisons, and the Beta posterior of an action type's success rate.

Why two tests for one rollback: the clustered delta-method z is right when counts are large and users differ
(one user can make many errors), and wrong when a cell holds a handful of events -- exactly the first hours of
a 10 % rollout, when two errors can look like a tenfold rise. The conditional Poisson test is exact for small
counts but ignores clustering. A rollback needs both (the larger p-value), so neither failure mode can trigger
it alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class CohortRates:
    """A cohort's metric per 1,000 other events before and after, and how many users / events it has."""

    users: int
    metric_before: float
    metric_after: float
    base_before: float
    base_after: float

    @property
    def rate_before(self) -> float:
        return 1000.0 * self.metric_before / self.base_before if self.base_before > 0 else math.nan

    @property
    def rate_after(self) -> float:
        return 1000.0 * self.metric_after / self.base_after if self.base_after > 0 else math.nan


@dataclass(frozen=True)
class DiffInDiff:
    """log(rate ratio after/before, exposed) - log(the same, unexposed), with a user-clustered interval.

    ``harm_z`` is signed so that positive means the harmful direction; ``p_value`` is the larger of the
    one-sided clustered p-value and the exact conditional Poisson p-value (both must reject).
    """

    exposed: CohortRates
    unexposed: CohortRates
    log_ratio: float
    std_error: float
    harm_z: float
    p_clustered: float
    p_exact: float
    level: float
    ci_low: float
    ci_high: float

    @property
    def p_value(self) -> float:
        return max(self.p_clustered, self.p_exact)

    @property
    def ratio(self) -> float:
        """Multiplicative effect on the exposed users' rate, net of the unexposed users' change."""
        return math.exp(self.log_ratio)

    def as_dict(self) -> dict[str, float | int]:
        out = {k: v for k, v in asdict(self).items() if k not in ("exposed", "unexposed")}
        for name, cohort in (("exposed", self.exposed), ("unexposed", self.unexposed)):
            out[f"{name}_users"] = cohort.users
            out[f"{name}_rate_before"] = cohort.rate_before
            out[f"{name}_rate_after"] = cohort.rate_after
            out[f"{name}_metric_events_after"] = cohort.metric_after
        out["ratio"] = self.ratio
        out["ratio_ci_low"] = math.exp(self.ci_low)
        out["ratio_ci_high"] = math.exp(self.ci_high)
        out["p_value"] = self.p_value
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def _log_rate_influence(y: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray, float, float]:
    """log(sum y / sum x) and each user's influence on it (the ratio estimator's linearisation)."""
    total_y = max(float(y.sum()), 0.5)  # a zero count keeps a finite (conservative) rate
    total_x = float(x.sum())
    rate = total_y / total_x
    return math.log(rate), (y - rate * x) / total_y, total_y, total_x


def _cohort(y0: np.ndarray, x0: np.ndarray, y1: np.ndarray, x1: np.ndarray) -> tuple[float, float, CohortRates]:
    """Change in log rate (after - before) of one cohort, its clustered variance, and its rates."""
    l0, psi0, _, _ = _log_rate_influence(y0, x0)
    l1, psi1, _, _ = _log_rate_influence(y1, x1)
    n = len(y0)
    psi = psi1 - psi0  # the same user before and after: one cluster
    variance = float((psi**2).sum()) * n / max(n - 1, 1)
    rates = CohortRates(n, float(y0.sum()), float(y1.sum()), float(x0.sum()), float(x1.sum()))
    return l1 - l0, variance, rates


def rate_did(
    exposed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    unexposed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    harmful: str,
    level: float,
) -> DiffInDiff | None:
    """Difference-in-differences of a per-event rate between two cohorts of users.

    Each cohort is ``(metric_before, base_before, metric_after, base_after)``: per-user counts of the metric
    event and of the other events (the exposure opportunity) before and after the change. ``harmful`` is
    ``increase`` or ``decrease``; ``level`` the one-sided significance the interval is drawn at. Returns None
    when a cohort has no base events in a period (no rate to compare).
    """
    if any(float(a.sum()) <= 0 for a in (exposed[1], exposed[3], unexposed[1], unexposed[3])):
        return None
    d_e, v_e, rates_e = _cohort(*exposed)
    d_u, v_u, rates_u = _cohort(*unexposed)
    log_ratio = d_e - d_u
    se = math.sqrt(v_e + v_u) if v_e + v_u > 0 else math.inf
    sign = 1.0 if harmful == "increase" else -1.0
    harm_z = sign * log_ratio / se if se > 0 else 0.0
    p_clustered = float(stats.norm.sf(harm_z))
    p_exact = conditional_poisson_p(rates_e, rates_u, harmful)
    z = float(stats.norm.isf(level))
    return DiffInDiff(
        rates_e, rates_u, log_ratio, se, harm_z, p_clustered, p_exact, level, log_ratio - z * se, log_ratio + z * se
    )


def conditional_poisson_p(exposed: CohortRates, unexposed: CohortRates, harmful: str) -> float:
    """Exact one-sided p-value that the exposed cohort's share of the after-period metric events is this extreme.

    Under no differential change, given the total after-period count, the exposed count is binomial with the
    share the before-period rates predict: exposed base_after x rate_before against the unexposed one. The
    exposed cohort's before rate is shrunk toward the pooled one by one pseudo-event, so a small cohort that
    happened to have no events before does not make any later event look infinitely unlikely.
    """
    pooled = (exposed.metric_before + unexposed.metric_before + 0.5) / (exposed.base_before + unexposed.base_before)
    rate_e = (exposed.metric_before + 1.0) / (exposed.base_before + 1.0 / pooled)
    rate_u = (unexposed.metric_before + 1.0) / (unexposed.base_before + 1.0 / pooled)
    expect_e, expect_u = exposed.base_after * rate_e, unexposed.base_after * rate_u
    k, n = round(exposed.metric_after), round(exposed.metric_after + unexposed.metric_after)
    if n == 0:
        return 1.0
    share = expect_e / (expect_e + expect_u)
    if harmful == "increase":
        return float(stats.binom.sf(k - 1, n, share))
    return float(stats.binom.cdf(k, n, share))


@dataclass(frozen=True)
class Proportions:
    """Treated minus control proportion with a Newcombe (Wilson hybrid score) interval."""

    treated_rate: float
    control_rate: float
    difference: float
    ci_low: float
    ci_high: float
    n_treated: int
    n_control: int
    confidence: float


def _wilson(k: float, n: int, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportions(k1: int, n1: int, k0: int, n0: int, confidence: float = 0.95) -> Proportions | None:
    """Newcombe's method 10: good coverage at the small holdouts retention plays have (tens of users)."""
    if n1 <= 0 or n0 <= 0:
        return None
    z = float(stats.norm.isf((1 - confidence) / 2))
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = _wilson(k1, n1, z)
    l0, u0 = _wilson(k0, n0, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Proportions(p1, p0, d, low, high, n1, n0, confidence)


def beta_mean(prior_successes: float, prior_failures: float, successes: int, failures: int) -> float:
    """Posterior mean of a success rate under a Beta(prior_successes, prior_failures) prior."""
    a = prior_successes + successes
    b = prior_failures + failures
    return a / (a + b)
