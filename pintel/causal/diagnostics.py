"""Overlap, trimming and covariate balance: the checks that decide whether an estimate is usable.

An observational estimate is only as good as the comparison it rests on. These diagnostics make
the comparison visible: how far apart the arms' propensity distributions are, how many units had
to be dropped because nobody comparable exists in the other arm, and whether the weights actually
balance the covariates (standardised mean differences, the Austin 2009 convention of |SMD| < 0.1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pintel.causal.data import MIN_UNITS_PER_ARM
from pintel.causal.selection import Choice

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SMD_THRESHOLD = 0.1
"""Conventional limit for acceptable residual imbalance after weighting (warning)."""

IPW_MAX_SMD = 0.25
"""For IPW the weights are the whole adjustment; beyond this residual imbalance (Rubin 2001's
limit for trusting a model to adjust the rest) an IPW estimate is unreliable. AIPW only warns: its
outcome model adjusts for what the weights leave over."""

MAX_SHARE_TRIMMED = 0.5
"""Beyond this the "overlap population" is no longer the population that was asked about."""

MIN_EFFECTIVE_SAMPLE = 10.0
"""Kish effective sample size per arm below which an estimate rests on a handful of units."""

LOW_EFFECTIVE_SAMPLE = 50.0
"""Below this (but above the minimum) the estimate is reported with a warning."""


@dataclass(frozen=True)
class ArmPropensity:
    """Distribution of the cross-fitted propensity within one arm."""

    n: int
    min: float
    max: float
    quantiles: dict[str, float]


@dataclass(frozen=True)
class Overlap:
    """Propensity overlap and what trimming removed.

    ``share_outside`` counts units outside ``[trim_low, trim_high]`` on either side; what is
    actually trimmed depends on the estimand (``trim_rule``): the ATE needs comparable units in both
    directions, the ATT only needs controls for the treated, so only e > trim_high is a problem.
    ``ess_*`` is Kish's effective sample size of the weights used for the estimand, after trimming.
    """

    trim_low: float
    trim_high: float
    trim_rule: str
    treated: ArmPropensity
    control: ArmPropensity
    share_outside: float
    share_outside_treated: float
    share_outside_control: float
    n_trimmed: int
    n_trimmed_treated: int
    n_trimmed_control: int
    share_trimmed: float
    ess_treated: float
    ess_control: float


@dataclass(frozen=True)
class Balance:
    """Standardised mean differences per design column, unweighted and after weighting.

    Both use the unweighted pooled SD of the full sample as denominator so the two columns are on
    the same scale (otherwise weighting could "improve" balance by inflating the variance).
    """

    smd_before: dict[str, float]
    smd_after: dict[str, float]
    max_abs_smd_before: float
    max_abs_smd_after: float
    worst_after: str


@dataclass(frozen=True)
class Refutation:
    """One falsification test: what was changed, the new estimate and whether it behaved."""

    name: str
    estimate: float
    original: float
    delta: float
    p_value: float | None
    passed: bool
    detail: str


@dataclass(frozen=True)
class Diagnostics:
    """Everything behind an estimate, JSON-serialisable through ``to_dict``."""

    overlap: Overlap
    balance: Balance
    refutations: list[Refutation]
    n_input: int
    n_dropped_missing: int
    se_method: str
    propensity_model: str
    outcome_model: str
    reliable: bool
    warnings: list[str] = field(default_factory=list)
    nuisance_selection: dict[str, Choice] = field(default_factory=dict)
    """Per nuisance model (propensity, outcome_control, outcome_treated): the candidates' out-of-fold losses
    and the one used in each fold (:class:`pintel.causal.selection.Choice`)."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars / arrays and NaN into plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return None if not np.isfinite(obj) else float(obj)
    return obj


def trim_mask(e: np.ndarray, bounds: tuple[float, float], estimand: str) -> np.ndarray:
    """True for units kept. ATE: lo <= e <= hi. ATT: e <= hi (low-e controls just get ~0 weight)."""
    lo, hi = bounds
    if estimand == "att":
        return e <= hi
    return (e >= lo) & (e <= hi)


def estimand_weights(t: np.ndarray, e: np.ndarray, estimand: str) -> np.ndarray:
    """Balancing weights: 1/e and 1/(1-e) for the ATE; 1 and e/(1-e) for the ATT."""
    if estimand == "ate":
        return np.where(t == 1, 1 / e, 1 / (1 - e))
    return np.where(t == 1, 1.0, e / (1 - e))


def kish_ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) else 0.0


def _arm(e: np.ndarray) -> ArmPropensity:
    qs = np.quantile(e, QUANTILES)
    return ArmPropensity(
        n=len(e),
        min=float(e.min()),
        max=float(e.max()),
        quantiles={f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
    )


def overlap(t: np.ndarray, e: np.ndarray, kept: np.ndarray, bounds: tuple[float, float], estimand: str) -> Overlap:
    lo, hi = bounds
    outside = (e < lo) | (e > hi)
    trimmed = ~kept
    w = estimand_weights(t[kept], e[kept], estimand)
    t_kept = t[kept]
    return Overlap(
        trim_low=lo,
        trim_high=hi,
        trim_rule=f"dropped e > {hi}" if estimand == "att" else f"dropped e outside [{lo}, {hi}]",
        treated=_arm(e[t == 1]),
        control=_arm(e[t == 0]),
        share_outside=float(outside.mean()),
        share_outside_treated=float(outside[t == 1].mean()),
        share_outside_control=float(outside[t == 0].mean()),
        n_trimmed=int(trimmed.sum()),
        n_trimmed_treated=int((trimmed & (t == 1)).sum()),
        n_trimmed_control=int((trimmed & (t == 0)).sum()),
        share_trimmed=float(trimmed.mean()),
        ess_treated=kish_ess(w[t_kept == 1]),
        ess_control=kish_ess(w[t_kept == 0]),
    )


def balance(X: pd.DataFrame, t: np.ndarray, e: np.ndarray, kept: np.ndarray, estimand: str) -> Balance:
    values = X.to_numpy(dtype=float)
    pooled_sd = np.sqrt((values[t == 1].var(axis=0, ddof=1) + values[t == 0].var(axis=0, ddof=1)) / 2)
    pooled_sd = np.where(pooled_sd > 0, pooled_sd, np.nan)
    before = (values[t == 1].mean(axis=0) - values[t == 0].mean(axis=0)) / pooled_sd

    vk, tk = values[kept], t[kept]
    w = estimand_weights(tk, e[kept], estimand)
    m1 = np.average(vk[tk == 1], axis=0, weights=w[tk == 1])
    m0 = np.average(vk[tk == 0], axis=0, weights=w[tk == 0])
    after = (m1 - m0) / pooled_sd

    names = list(X.columns)
    abs_after = np.nan_to_num(np.abs(after), nan=0.0)
    return Balance(
        smd_before={n: float(v) for n, v in zip(names, before, strict=True)},
        smd_after={n: float(v) for n, v in zip(names, after, strict=True)},
        max_abs_smd_before=float(np.nanmax(np.abs(before))),
        max_abs_smd_after=float(abs_after.max()),
        worst_after=names[int(abs_after.argmax())],
    )


def assess(ov: Overlap, bal: Balance, method: str, t_kept: np.ndarray) -> tuple[list[str], list[str]]:
    """Turn overlap and balance into (warnings, reasons the estimate is unreliable).

    Thresholds were checked on LaLonde-style simulations (185 treated vs 2 490 very different
    controls): AIPW-ATT covered the truth with control ESS of 12-33, so only a truly tiny ESS is
    disqualifying; the ATE there trims ~80 % of units and is (rightly) declared unreliable.
    """
    warnings: list[str] = []
    unreliable: list[str] = []
    if ov.n_trimmed:
        warnings.append(
            f"trimmed {ov.n_trimmed} units ({ov.share_trimmed:.1%}; {ov.n_trimmed_treated} treated, "
            f"{ov.n_trimmed_control} control) with propensity outside the overlap bounds "
            f"({ov.trim_rule}); the estimate refers to the overlap population"
        )
    if ov.share_trimmed > MAX_SHARE_TRIMMED:
        unreliable.append(f"{ov.share_trimmed:.0%} of units fall outside the propensity bounds")
    if min(int(t_kept.sum()), int((1 - t_kept).sum())) < MIN_UNITS_PER_ARM:
        unreliable.append(f"fewer than {MIN_UNITS_PER_ARM} units left in an arm after trimming")
    if method == "naive":
        return warnings, unreliable
    ess = min(ov.ess_treated, ov.ess_control)
    ess_text = f"effective sample size treated {ov.ess_treated:.1f}, control {ov.ess_control:.1f}"
    if ess < MIN_EFFECTIVE_SAMPLE:
        unreliable.append(f"{ess_text}: a handful of heavily weighted units drive the estimate")
    elif ess < LOW_EFFECTIVE_SAMPLE:
        warnings.append(f"{ess_text}: few comparable units, the estimate leans on a small group")
    imbalance = f"max |SMD| after weighting {bal.max_abs_smd_after:.2f} ('{bal.worst_after}')"
    if method == "ipw" and bal.max_abs_smd_after > IPW_MAX_SMD:
        unreliable.append(f"{imbalance} exceeds {IPW_MAX_SMD}: the weights do not balance the covariates")
    elif bal.max_abs_smd_after > SMD_THRESHOLD:
        warnings.append(f"covariates remain imbalanced: {imbalance} exceeds {SMD_THRESHOLD}")
    return warnings, unreliable
