"""ROC AUC for the manifest's realism figures, without importing scikit-learn.

Importing ``sklearn.metrics`` (and the SciPy it pulls in) cost ~2 CPU seconds of every simulation, more than a
small world takes to simulate. This is scikit-learn's binary ``roc_auc_score`` step for step -- stable descending
sort, one point per distinct score, collinear points dropped, trapezoidal area -- so the manifest's figure is the
same float (tests/test_simulate.py compares the two on ties and random scores).
"""

from __future__ import annotations

import numpy as np


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve of binary labels ``y_true`` (0/1) against ``y_score`` (both classes present)."""
    y = np.asarray(y_true, dtype=float)
    score = np.asarray(y_score)
    # scikit-learn sorts descending *stably* (ties keep their input order): reverse a stable ascending sort of
    # the reversed input.
    order = len(score) - 1 - np.argsort(score[::-1], kind="stable")[::-1]
    score, y = score[order], y[order]
    thresholds = np.r_[np.flatnonzero(np.diff(score)), len(y) - 1]
    tps = np.cumsum(y)[thresholds]
    fps = 1 + thresholds - tps
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    return float((np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0).sum())
