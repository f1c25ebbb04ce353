"""Cross-fitted nuisance models: the propensity score e(x) and the arm-wise outcome means mu_t(x).

Why cross-fitting: AIPW is only root-n and its influence-function variance only honest if the
nuisance predictions for a unit come from models that never saw that unit (Chernozhukov et al.,
2018). With K folds every unit gets out-of-fold e, mu0 and mu1.

Model choices (made for observational product data, where treated and control users differ a lot):

* propensity, default ``"logistic"``: standardised L2-regularised logistic regression. Flexible
  classifiers separate very different arms almost perfectly and push e(x) to 0/1, which explodes
  inverse weights; the logistic score equations make it calibrated in the large and smooth. Any
  misspecification is what the outcome model in AIPW is there to absorb. ``"gbm"`` (gradient
  boosting wrapped in sigmoid calibration) is available when the assignment is clearly non-linear.
* outcome, default ``"auto"``: one model per arm (no shared-slope assumption, so heterogeneous
  effects are allowed). Gradient boosting when the arm's training fold has at least
  ``GBM_MIN_TRAIN`` units, otherwise a ridge / logistic regression -- boosting on ~150 treated
  units (LaLonde-sized) overfits. Binary outcomes use classifier probabilities.

All fits run single-threaded (threadpoolctl, a scikit-learn dependency): on the thousands of rows
these models see, threads buy nothing, while OpenMP busy-waiting on a shared or oversubscribed
machine (CI, a warehouse worker) made one AIPW fit take 40 s instead of 0.8 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import PredefinedSplit, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

PROPENSITY_MODELS = ("logistic", "gbm")
OUTCOME_MODELS = ("auto", "gbm", "linear")
GBM_MIN_TRAIN = 500

_GBM_PARAMS = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


@dataclass(frozen=True)
class Nuisance:
    """Out-of-fold predictions for every unit (``mu0``/``mu1`` are NaN when not requested)."""

    e: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray


def propensity_model(kind: str, seed: int) -> BaseEstimator:
    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    if kind == "gbm":
        base = HistGradientBoostingClassifier(**_GBM_PARAMS, random_state=seed)
        return CalibratedClassifierCV(base, method="sigmoid", cv=3)
    raise ValueError(f"propensity_model must be one of {PROPENSITY_MODELS}, got {kind!r}")


def outcome_model(kind: str, binary: bool, n_train: int, seed: int) -> BaseEstimator:
    if kind == "auto":
        kind = "gbm" if n_train >= GBM_MIN_TRAIN else "linear"
    if kind == "gbm":
        if binary:
            return HistGradientBoostingClassifier(**_GBM_PARAMS, random_state=seed)
        return HistGradientBoostingRegressor(**_GBM_PARAMS, random_state=seed)
    if kind == "linear":
        if binary:
            return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    raise ValueError(f"outcome_model must be one of {OUTCOME_MODELS}, got {kind!r}")


def _predict(model: BaseEstimator, X: pd.DataFrame, binary: bool) -> np.ndarray:
    if binary:
        proba = model.predict_proba(X)
        return proba[:, list(model.classes_).index(1)]
    return model.predict(X)


def _fit_predict_outcome(
    X_train: pd.DataFrame, y_train: np.ndarray, X_test: pd.DataFrame, *, kind: str, binary: bool, seed: int
) -> np.ndarray:
    # A fold where an arm's outcome never varies (rare conversions) has nothing to learn:
    # predict the constant rather than crash the classifier.
    if np.ptp(y_train) == 0:
        return np.full(len(X_test), float(y_train[0]))
    model = outcome_model(kind, binary, len(y_train), seed)
    model.fit(X_train, y_train.astype(int) if binary else y_train)
    return _predict(model, X_test, binary)


def _folds(t: np.ndarray, n_folds: int, seed: int, groups: np.ndarray | None) -> list:
    """Stratified folds; with ``groups``, all copies of a row share the fold of that row.

    Folds are drawn over the distinct groups (each group has one treatment value, so stratifying
    them stratifies the units) and mapped back -- much faster than StratifiedGroupKFold.
    """
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    if groups is None:
        return list(splitter.split(np.zeros(len(t)), t))
    unique, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    fold_of_group = np.empty(len(unique), dtype=int)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(unique)), t[first])):
        fold_of_group[test] = k
    return list(PredefinedSplit(fold_of_group[inverse]).split())


def cross_fit(
    X: pd.DataFrame,
    t: np.ndarray,
    y: np.ndarray,
    *,
    binary: bool,
    n_folds: int,
    seed: int,
    propensity: str = "logistic",
    outcome: str = "auto",
    fit_outcome: bool = True,
    groups: np.ndarray | None = None,
) -> Nuisance:
    """K-fold cross-fitted e(x), mu0(x), mu1(x), folds stratified by treatment.

    ``groups`` (bootstrap resamples) keeps copies of one original row in the same fold, otherwise
    a unit would be predicted by a model trained on its own duplicate.
    """
    n = len(t)
    e = np.full(n, np.nan)
    mu0 = np.full(n, np.nan)
    mu1 = np.full(n, np.nan)
    base_ps = propensity_model(propensity, seed)
    with threadpool_limits(limits=1):
        for train, test in _folds(t, n_folds, seed, groups):
            X_train, X_test = X.iloc[train], X.iloc[test]
            t_train = t[train]
            if np.ptp(t_train) == 0:
                raise ValueError("a cross-fitting fold has no variation in treatment; use fewer folds")
            ps = clone(base_ps).fit(X_train, t_train)
            e[test] = _predict(ps, X_test, binary=True)
            if not fit_outcome:
                continue
            for arm, target in ((0, mu0), (1, mu1)):
                in_arm = t_train == arm
                target[test] = _fit_predict_outcome(
                    X_train[in_arm], y[train][in_arm], X_test, kind=outcome, binary=binary, seed=seed
                )
    return Nuisance(e=e, mu0=mu0, mu1=mu1)
