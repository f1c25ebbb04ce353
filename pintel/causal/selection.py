"""Candidate nuisance models and their choice by out-of-fold loss.

Why choose at all: no single learner is right for every data set. Gradient boosting finds non-linear
structure in tens of thousands of rows and overfits a few hundred, where a regularised linear model is the
better bet; a fixed size rule (boosting from 500 training units) guesses which regime a data set is in.
Instead every candidate is fitted inside the same cross-fitting folds and the one with the lowest
out-of-fold loss is used -- a discrete super learner (van der Laan, Polley & Hubbard 2007) whose risk is
estimated by the cross-fit itself, so choosing costs the candidates' fits and nothing more.

One choice for all folds: the candidate with the lowest out-of-fold loss over every unit predicts every
fold, as in the discrete super learner. Each unit's prediction is still out-of-fold (its model never saw
it); its outcome is one of n votes on which of a handful of candidates is used, a selection effect that
vanishes with n. Choosing per fold on the *other* folds' losses (the earlier design) removed even that vote,
at a price that was larger on small samples: with 3 folds a fold's choice rests on two folds' losses, and
when folds end up with different models the AIPW correction mixes residuals of different models. On the
1 200-unit feature-impact test case (tests/test_causal_wiring.py) fold 3 alone switched to a weakly
penalised outcome model and propensity, and the ATE moved from 0.166 to 0.230 (truth 0.105).
Losses are proper scoring rules -- log loss for the propensity and for binary outcomes, squared error for
continuous outcomes -- so the choice rewards calibrated probabilities and penalises the over-confident
propensities that explode inverse weights. Ties go to the earlier (simpler) candidate, which makes the
choice deterministic for a seed.

Candidates:

* ``linear``: per-arm ridge regression whose penalty is chosen by efficient leave-one-out CV (continuous
  outcomes), or standardised L2 logistic regression on a grid of penalties ``C_GRID`` (propensity, binary
  outcomes), each penalty a candidate of its own (so the penalty is cross-validated by the same folds);
* ``gbm``: histogram gradient boosting with fixed, conservative settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
"""Inverse L2 penalties of the logistic candidates (standardised covariates): from strong shrinkage to
nearly unpenalised. The ends matter: small samples need shrinkage, large ones none."""

RIDGE_ALPHAS = np.logspace(-3, 3, 13)
PROBA_EPS = 1e-6
"""Probabilities are clipped to [eps, 1 - eps] only to score them; the predictions themselves are unchanged."""

GBM_PARAMS = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
}

FAMILIES = {
    "propensity": ("auto", "logistic", "gbm"),
    "outcome": ("auto", "linear", "gbm"),
}
"""User-facing choices: ``auto`` chooses among every candidate, a family name among its own candidates."""

Matrix = pd.DataFrame | np.ndarray
Predictor = Callable[[Matrix, np.ndarray, Matrix], dict[str, np.ndarray]]


def logistic_name(c: float) -> str:
    return f"logistic(C={c:g})"


def candidate_names(family: str, *, classifier: bool) -> tuple[str, ...]:
    """Candidate names for a user-facing ``family`` (or one exact candidate name, kept as is)."""
    linear = tuple(logistic_name(c) for c in C_GRID) if classifier else ("ridge",)
    if family == "auto":
        return (*linear, "gbm")
    if family in ("linear", "logistic"):
        return linear
    return (family,)


def _logistic_path(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, cs: Sequence[float]
) -> dict[str, np.ndarray]:
    """P(y = 1) for each penalty, warm-started from the previous (stronger) one: a path costs about one fit."""
    out: dict[str, np.ndarray] = {}
    model = LogisticRegression(max_iter=5000, warm_start=True)
    for c in sorted(cs):
        model.set_params(C=c).fit(X_train, y_train)
        out[logistic_name(c)] = model.predict_proba(X_test)[:, 1]
    return out


def fit_predict(
    names: Sequence[str], X_train: Matrix, y_train: np.ndarray, X_test: Matrix, *, binary: bool, seed: int
) -> dict[str, np.ndarray]:
    """Fit each candidate in ``names`` on the training rows and predict the test rows.

    A training set whose target never varies (an arm without a single conversion in the fold) has nothing to
    learn: every candidate predicts that constant rather than crash.
    """
    if np.ptp(y_train) == 0:
        return {name: np.full(len(X_test), float(y_train[0])) for name in names}
    out: dict[str, np.ndarray] = {}
    cs = [c for c in C_GRID if logistic_name(c) in names]
    if cs or "ridge" in names:
        scaler = StandardScaler().fit(X_train)
        Xs_train, Xs_test = scaler.transform(X_train), scaler.transform(X_test)
        if cs:
            out.update(_logistic_path(Xs_train, y_train.astype(int), Xs_test, cs))
        if "ridge" in names:
            out["ridge"] = RidgeCV(alphas=RIDGE_ALPHAS).fit(Xs_train, y_train).predict(Xs_test)
    if "gbm" in names:
        if binary:
            gbm = HistGradientBoostingClassifier(**GBM_PARAMS, random_state=seed).fit(X_train, y_train.astype(int))
            out["gbm"] = gbm.predict_proba(X_test)[:, list(gbm.classes_).index(1)]
        else:
            gbm = HistGradientBoostingRegressor(**GBM_PARAMS, random_state=seed).fit(X_train, y_train)
            out["gbm"] = gbm.predict(X_test)
    unknown = set(names) - set(out)
    if unknown:
        raise ValueError(f"unknown nuisance candidates {sorted(unknown)}")
    return {name: out[name] for name in names}


def unit_loss(y: np.ndarray, pred: np.ndarray, *, binary: bool) -> np.ndarray:
    """Per-unit log loss (binary target) or squared error."""
    if binary:
        p = np.clip(pred, PROBA_EPS, 1 - PROBA_EPS)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return (y - pred) ** 2


@dataclass(frozen=True)
class Choice:
    """What cross-validation chose for one nuisance model, with the evidence.

    ``candidates`` is each candidate's mean out-of-fold loss over the units it is scored on (the arm's units
    for an outcome model); ``baseline`` the same loss for the training folds' mean, i.e. no covariates, so
    ``1 - loss / baseline`` is the share of the loss the covariates explain. ``by_fold`` is the candidate
    whose predictions each fold uses (``chosen`` for every fold unless ``fixed`` said otherwise); ``chosen``
    has the lowest loss overall and is what a refit of the same pipeline (a refutation) reuses.
    """

    loss: str
    candidates: dict[str, float]
    baseline: float
    by_fold: tuple[str, ...]
    chosen: str


def choose(
    preds: Mapping[str, np.ndarray],
    y: np.ndarray,
    scored: np.ndarray,
    fold_of: np.ndarray,
    baseline: np.ndarray,
    *,
    binary: bool,
    fixed: Sequence[str] | None = None,
) -> tuple[np.ndarray, Choice]:
    """Combine candidates' out-of-fold predictions into one prediction per unit (see the module doc).

    Args:
        preds: candidate name -> out-of-fold prediction for every unit (candidates in preference order).
        scored: units whose loss counts (those with an observed target for this model).
        fold_of: fold index of every unit; ``baseline``: the training-fold mean predicted for every unit.
        fixed: reuse these candidates instead of choosing -- one per fold, or one for all folds.
    """
    names = list(preds)
    n_folds = int(fold_of.max()) + 1
    losses = np.column_stack([unit_loss(y, preds[name], binary=binary) for name in names])
    overall = {name: float(losses[scored, j].mean()) for j, name in enumerate(names)}
    by_fold: list[str] = []
    out = np.empty(len(y))
    best = min(names, key=lambda name: (overall[name], names.index(name)))
    for k in range(n_folds):
        name = best
        if fixed is not None:
            name = fixed[k] if len(fixed) == n_folds else fixed[0]
        by_fold.append(name)
        out[fold_of == k] = preds[name][fold_of == k]
    choice = Choice(
        loss="log_loss" if binary else "squared_error",
        candidates=overall,
        baseline=float(unit_loss(y, baseline, binary=binary)[scored].mean()),
        by_fold=tuple(by_fold),
        chosen=best,
    )
    return out, choice
