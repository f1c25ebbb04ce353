"""Cross-fitted nuisance models: the propensity score e(x) and the arm-wise outcome means mu_t(x).

Why cross-fitting: AIPW is only root-n and its influence-function variance only honest if the
nuisance predictions for a unit come from models that never saw that unit (Chernozhukov et al.,
2018). With K folds every unit gets out-of-fold e, mu0 and mu1.

Which models: by default (``"auto"``) every candidate of :mod:`pintel.causal.selection` -- L2-regularised
linear / logistic models and gradient boosting -- is fitted in each fold, and the one with the lowest
out-of-fold loss over all units predicts every fold. Outcome models are fitted per arm (no shared-slope
assumption, so heterogeneous effects are allowed); binary outcomes use classifier probabilities. A family
name (``"logistic"``, ``"linear"``, ``"gbm"``) restricts the choice to that family. What was chosen, and
every candidate's loss, is returned with the predictions and reported in the diagnostics.

Fits of the same data are cached (:data:`CACHE_SIZE` entries keyed by the content of the inputs): the ATE,
the ATT and the IPW estimate of one question share one cross-fit instead of three identical ones. Refits
that nobody asks for twice (refutations, bootstrap resamples) are not kept.

All fits run single-threaded (threadpoolctl, a scikit-learn dependency): on the thousands of rows
these models see, threads buy nothing, while OpenMP busy-waiting on a shared or oversubscribed
machine (CI, a warehouse worker) made one AIPW fit take 40 s instead of 0.8 s.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from pintel.causal.selection import FAMILIES, Choice, candidate_names, choose, fit_predict

PROPENSITY_MODELS = FAMILIES["propensity"]
OUTCOME_MODELS = FAMILIES["outcome"]
NUISANCES = ("propensity", "outcome_control", "outcome_treated")
CACHE_SIZE = 4


@dataclass(frozen=True)
class Nuisance:
    """Out-of-fold predictions for every unit (``mu0``/``mu1`` are NaN when not requested).

    ``selection`` says, per nuisance in :data:`NUISANCES` that was fitted, which candidate was used and why;
    ``candidates`` keeps every candidate's out-of-fold predictions (per nuisance) and ``fold_of`` each unit's
    fold, so an estimate can be recomputed with any one candidate without refitting.
    """

    e: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    selection: dict[str, Choice] = field(default_factory=dict)
    candidates: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    fold_of: np.ndarray | None = None

    def frozen(self, *, same_folds: bool) -> dict[str, tuple[str, ...]]:
        """The choices to reuse in a refit: fold by fold when its folds are these, else the overall choice."""
        return {name: c.by_fold if same_folds else (c.chosen,) for name, c in self.selection.items()}


def _folds(t: np.ndarray, n_folds: int, seed: int, groups: np.ndarray | None) -> np.ndarray:
    """Fold index of every unit; stratified, and with ``groups`` all copies of a row share its fold.

    Folds are drawn over the distinct groups (each group has one treatment value, so stratifying
    them stratifies the units) and mapped back -- much faster than StratifiedGroupKFold.
    """
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    if groups is None:
        fold_of = np.empty(len(t), dtype=int)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(t)), t)):
            fold_of[test] = k
        return fold_of
    unique, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    fold_of_group = np.empty(len(unique), dtype=int)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(unique)), t[first])):
        fold_of_group[test] = k
    return fold_of_group[inverse]


def _names(family: str, fixed: Sequence[str] | None, *, classifier: bool) -> tuple[str, ...]:
    if fixed is not None:
        return tuple(dict.fromkeys(fixed))
    return candidate_names(family, classifier=classifier)


_cache: OrderedDict[str, Nuisance] = OrderedDict()
_cache_lock = threading.Lock()


def _key(X: pd.DataFrame, t: np.ndarray, y: np.ndarray, groups: np.ndarray | None, options: tuple) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((list(X.columns), X.shape, options)).encode())
    for values in (X.to_numpy(dtype=float), t, y, groups):
        if values is not None:
            digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


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
    frozen: Mapping[str, Sequence[str]] | None = None,
) -> Nuisance:
    """K-fold cross-fitted e(x), mu0(x), mu1(x), folds stratified by treatment, models chosen per fold.

    ``groups`` (bootstrap resamples) keeps copies of one original row in the same fold, otherwise
    a unit would be predicted by a model trained on its own duplicate. ``frozen`` (from
    :meth:`Nuisance.frozen`) reuses earlier choices instead of choosing again.
    """

    def key(with_outcome: bool) -> str:
        options = (binary, n_folds, seed, propensity, outcome, with_outcome, repr(sorted((frozen or {}).items())))
        return _key(X, t, y, groups, options)

    # A fit with outcome models also answers a propensity-only request (IPW after AIPW on the same data).
    keys = [key(True)] if fit_outcome else [key(True), key(False)]
    with _cache_lock:
        for k in keys:
            if k in _cache:
                _cache.move_to_end(k)
                return _cache[k]
    result = _cross_fit(X, t, y, binary, n_folds, seed, propensity, outcome, fit_outcome, groups, frozen or {})
    if frozen or groups is not None:
        return result
    with _cache_lock:
        _cache[keys[-1]] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _cross_fit(
    X: pd.DataFrame,
    t: np.ndarray,
    y: np.ndarray,
    binary: bool,
    n_folds: int,
    seed: int,
    propensity: str,
    outcome: str,
    fit_outcome: bool,
    groups: np.ndarray | None,
    frozen: Mapping[str, Sequence[str]],
) -> Nuisance:
    n = len(t)
    fold_of = _folds(t, n_folds, seed, groups)
    ps_names = _names(propensity, frozen.get("propensity"), classifier=True)
    arm_names = {
        arm: _names(outcome, frozen.get(name), classifier=binary)
        for arm, name in ((0, "outcome_control"), (1, "outcome_treated"))
    }
    e_preds = {name: np.full(n, np.nan) for name in ps_names}
    mu_preds = {arm: {name: np.full(n, np.nan) for name in names} for arm, names in arm_names.items()}
    base_e, base_mu = np.full(n, np.nan), {0: np.full(n, np.nan), 1: np.full(n, np.nan)}
    # One float array for every fit: scikit-learn re-validates a DataFrame column by column on each fit,
    # transform and predict (a fifth of the model's time in the profile); the numbers are the same.
    Xv = X.to_numpy(dtype=float)
    with threadpool_limits(limits=1):
        for k in range(n_folds):
            train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            X_train, X_test, t_train = Xv[train], Xv[test], t[train]
            if np.ptp(t_train) == 0:
                raise ValueError("a cross-fitting fold has no variation in treatment; use fewer folds")
            for name, pred in fit_predict(ps_names, X_train, t_train, X_test, binary=True, seed=seed).items():
                e_preds[name][test] = pred
            base_e[test] = t_train.mean()
            if not fit_outcome:
                continue
            for arm, names in arm_names.items():
                in_arm = t_train == arm
                y_arm = y[train][in_arm]
                for name, pred in fit_predict(names, X_train[in_arm], y_arm, X_test, binary=binary, seed=seed).items():
                    mu_preds[arm][name][test] = pred
                base_mu[arm][test] = y_arm.mean()
    everyone = np.ones(n, dtype=bool)
    selection: dict[str, Choice] = {}
    e, selection["propensity"] = choose(
        e_preds, t.astype(float), everyone, fold_of, base_e, binary=True, fixed=frozen.get("propensity")
    )
    mu0, mu1 = np.full(n, np.nan), np.full(n, np.nan)
    if fit_outcome:
        for arm, name in ((0, "outcome_control"), (1, "outcome_treated")):
            pred, selection[name] = choose(
                mu_preds[arm], y, t == arm, fold_of, base_mu[arm], binary=binary, fixed=frozen.get(name)
            )
            (mu0 if arm == 0 else mu1)[:] = pred
    candidates = {"propensity": e_preds, "outcome_control": mu_preds[0], "outcome_treated": mu_preds[1]}
    for values in (e, mu0, mu1, fold_of, *e_preds.values(), *mu_preds[0].values(), *mu_preds[1].values()):
        values.flags.writeable = False  # cached and shared: nobody may change them in place
    return Nuisance(e=e, mu0=mu0, mu1=mu1, selection=selection, candidates=candidates, fold_of=fold_of)
