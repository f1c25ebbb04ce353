"""Prior-shift adjustment: move a calibrated churn model to the latest observed churn rate.

Why: a calibrator fitted on one window is right for that window's churn rate. When the rate changes (a price
change, a new acquisition channel, a season) every probability is off by the same factor in odds, and ECE
grows with the change however good the ranking stays. Saerens, Latinne & Decaestecker (2002, "Adjusting the
outputs of a classifier to new a priori probabilities") show that under a change of prior the posterior moves
by a constant in log-odds::

    logit p'(x) = logit p(x) + delta,    delta = logit(pi_new) - logit(pi_old)

Their EM estimates ``pi_new`` from unlabelled data; churn labels arrive one horizon late, so here the new
prior is *observed*: the realised churn rate of the most recent fully labelled snapshots. And instead of the
window's raw prior, ``delta`` is solved so that the shifted probabilities of those snapshots' users average
exactly their realised rate (calibration in the large). On pure label shift the two coincide; when the user
mix moved too (riskier users signing up), the features already explain part of the change, and solving on
the recent users' own predictions credits that part once instead of twice.

The estimate needs enough churners to be worth more than its noise: the recent window reaches back snapshot by
snapshot until it holds :data:`MIN_SHIFT_POSITIVES` churners, and the solved shift is shrunk towards zero by
its own noise (positive-part James-Stein: ``delta x max(0, 1 - se^2 / delta^2)`` with
``se = sqrt(1/churners + 1/non-churners)``, the standard error of a log-odds of a proportion). A shift the
data cannot tell from sampling noise is dropped, so a stationary product keeps its calibrator's
probabilities; a real change of the rate (``|delta|`` several times ``se``) passes almost whole.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

__all__ = [
    "MAX_ABS_SHIFT",
    "MIN_SHIFT_POSITIVES",
    "NO_SHIFT",
    "PROBABILITY_FLOOR",
    "PriorShift",
    "apply_shift",
    "fit_prior_shift",
    "recent_mask",
]

#: Churners the recent window must hold before its rate is trusted (see the module docstring).
MIN_SHIFT_POSITIVES = 100
#: Probabilities are clipped to [floor, 1 - floor] before the log-odds shift (isotonic outputs exact 0 and 1).
PROBABILITY_FLOOR = 1e-4
#: The shift is bounded to +-this many log-odds (odds x/÷ ~150): beyond it the data are not the same product.
MAX_ABS_SHIFT = 5.0


@dataclass(frozen=True)
class PriorShift:
    """A fitted prior shift: ``delta`` log-odds (after shrinkage; ``raw_delta`` before, ``standard_error`` its
    noise), the realised and mean predicted rate it reconciles, and the rows it was solved on."""

    delta: float
    observed_rate: float
    predicted_rate: float
    raw_delta: float
    standard_error: float
    window_start: str | None
    window_end: str | None
    n: int
    positives: int

    def as_params(self) -> dict[str, float | int | str | None]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


NO_SHIFT = PriorShift(0.0, math.nan, math.nan, 0.0, math.nan, None, None, 0, 0)


def apply_shift(probability: np.ndarray, delta: float) -> np.ndarray:
    """``expit(logit(p) + delta)``, with ``p`` clipped to ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]``."""
    p = np.asarray(probability, dtype=np.float64)
    if delta == 0.0:
        return p
    return expit(logit(np.clip(p, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)) + delta)


def recent_mask(
    dates: pd.Series | np.ndarray, y: np.ndarray, *, min_positives: int = MIN_SHIFT_POSITIVES
) -> np.ndarray:
    """Rows of the most recent snapshots that together hold at least ``min_positives`` churners (every row when
    all of them hold fewer), newest snapshot first."""
    when = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy()
    if when.size == 0:
        return np.zeros(0, dtype=bool)
    counts = pd.Series(np.asarray(y, dtype=np.int64)).groupby(when).sum().sort_index(ascending=False)
    reached = np.flatnonzero(counts.cumsum().to_numpy() >= min_positives)
    first = counts.index[reached[0]] if reached.size else counts.index[-1]
    return when >= first


def fit_prior_shift(probability: np.ndarray, y: np.ndarray, dates: pd.Series | np.ndarray) -> PriorShift:
    """Solve ``delta`` so that ``mean(apply_shift(probability, delta))`` equals the churn rate ``mean(y)``,
    then shrink it by its standard error (module docstring); ``raw_delta`` keeps the unshrunk solution.

    ``probability`` are the model's calibrated probabilities of the window's rows, ``y`` their realised 0/1
    labels and ``dates`` their snapshots (recorded as the window). A zero shift when the window is empty or
    holds a single class (a rate of 0 or 1 has no finite log-odds).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return NO_SHIFT
    p = np.asarray(probability, dtype=np.float64)
    when = pd.to_datetime(pd.Series(np.asarray(dates)))
    observed, predicted = float(y.mean()), float(p.mean())
    window = (str(when.min().date()), str(when.max().date()))
    if y.min() == y.max():
        return PriorShift(0.0, observed, predicted, 0.0, math.inf, *window, int(y.size), int(y.sum()))

    def gap(delta: float) -> float:
        return float(apply_shift(p, delta).mean()) - observed

    if gap(-MAX_ABS_SHIFT) > 0:
        delta = -MAX_ABS_SHIFT
    elif gap(MAX_ABS_SHIFT) < 0:
        delta = MAX_ABS_SHIFT
    else:
        delta = float(brentq(gap, -MAX_ABS_SHIFT, MAX_ABS_SHIFT, xtol=1e-6))
    positives = int(y.sum())
    se = math.sqrt(1.0 / positives + 1.0 / (y.size - positives))
    shrunk = delta * max(0.0, 1.0 - (se / delta) ** 2) if delta else 0.0
    return PriorShift(shrunk, observed, predicted, delta, se, *window, int(y.size), positives)
