"""Model monitoring: feature drift (PSI), realised performance of matured predictions, retrain decision.

Drift counts only where it can hurt: each feature's PSI is weighted by the model's own importance (its share of
the mean absolute log-odds contribution, stored at training time), and *clock* features -- a user's age,
tenure, days since signup, which grow by the elapsed days between snapshots by construction -- are reported
but never trip the flag (:func:`clock_features` finds them in the data; no feature name is special).

Churn labels arrive one label horizon (the dbt var ``churn_horizon_days``) late, so monitoring has two
clocks. Drift (:func:`drift_report`) is available the moment a new snapshot lands and is the early warning;
realised performance (:func:`realised_outcomes`) is the ground truth but lags by that horizon.
:func:`retrain_needed` combines both into one auditable decision with human-readable reasons, so the
orchestrator can log *why* it retrained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.special import rel_entr
from sklearn.metrics import brier_score_loss, roc_auc_score

from pintel.churn.columns import DATE_COL, ID_COL, LABEL_COL, EmptySnapshotError, as_binary_labels
from pintel.churn.evaluation import expected_calibration_error

__all__ = [
    "PSI_EPSILON",
    "PSI_MODERATE",
    "PSI_STABLE",
    "REALISED_COLUMNS",
    "RetrainThresholds",
    "clock_features",
    "drift_report",
    "psi",
    "psi_status",
    "realised_outcomes",
    "retrain_needed",
    "weighted_psi",
]

#: Floor for empty bins: keeps PSI finite when a bin is empty on one side, small enough (0.01 %) that it
#: does not mask a real shift.
PSI_EPSILON = 1e-4
#: Conventional PSI reading: < 0.1 stable, < 0.25 moderate shift, otherwise drifted.
PSI_STABLE = 0.10
PSI_MODERATE = 0.25

_MISSING = "__missing__"

#: A numeric feature is a *clock* when, for at least this share of users seen in two consecutive snapshots, it
#: grew by exactly the days between them (tenure, account age). Not 100 %: a reset or a NULL must not hide it.
CLOCK_SHARE = 0.95

REALISED_COLUMNS = [
    "model_version",
    "model_hash",
    "n",
    "positives",
    "roc_auc",
    "brier",
    "ece",
    "window_start",
    "window_end",
]


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def psi(expected: pd.Series, actual: pd.Series, bins: int = 10, *, categorical: bool | None = None) -> float:
    """Population stability index of ``actual`` against the ``expected`` (training) distribution.

    PSI = sum over bins of (a - e) * ln(a / e), computed as the symmetrised KL divergence with
    ``scipy.special.rel_entr``.

    * Numeric: bin edges are the interior quantiles of ``expected`` (deduplicated, so a 0/1 or count feature
      gets as many bins as it has distinct values); intervals are right-closed with open outer ends, so
      values outside the training range land in the first/last bin instead of being lost.
    * Categorical (string/category/object dtype, or ``categorical=True``): one bin per category seen on
      either side; new categories therefore count as drift.
    * NULLs are their own bin in both cases: a feature that starts arriving NULL is drift too.

    Empty bins are floored at :data:`PSI_EPSILON` so the log stays finite.
    """
    e = pd.Series(expected).reset_index(drop=True)
    a = pd.Series(actual).reset_index(drop=True)
    if e.empty or a.empty:
        raise EmptySnapshotError("psi() needs non-empty expected and actual samples")
    if categorical is None:
        categorical = _is_categorical(e) or _is_categorical(a)
    if categorical:
        e_keys = e.astype(object).where(e.notna(), _MISSING).astype(str)
        a_keys = a.astype(object).where(a.notna(), _MISSING).astype(str)
        categories = sorted(set(e_keys.unique()) | set(a_keys.unique()))
        e_share = e_keys.value_counts(normalize=True).reindex(categories, fill_value=0.0).to_numpy()
        a_share = a_keys.value_counts(normalize=True).reindex(categories, fill_value=0.0).to_numpy()
    else:
        ev = e.to_numpy(dtype=np.float64, na_value=np.nan)
        av = a.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = ev[~np.isnan(ev)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if finite.size else np.array([])
        n_bins = edges.size + 2  # value bins + NULL bin

        def shares(values: np.ndarray) -> np.ndarray:
            idx = np.where(np.isnan(values), n_bins - 1, np.searchsorted(edges, values, side="left"))
            return np.bincount(idx, minlength=n_bins) / values.size

        e_share, a_share = shares(ev), shares(av)
    e_share = np.maximum(e_share, PSI_EPSILON)
    a_share = np.maximum(a_share, PSI_EPSILON)
    return float(np.sum(rel_entr(a_share, e_share) + rel_entr(e_share, a_share)))


def psi_status(value: float) -> str:
    """Map a PSI value to ``"stable"`` (< 0.1), ``"moderate"`` (< 0.25) or ``"drifted"``."""
    if value < PSI_STABLE:
        return "stable"
    return "moderate" if value < PSI_MODERATE else "drifted"


def clock_features(
    frame: pd.DataFrame, features: Sequence[str], *, id_col: str = ID_COL, date_col: str = DATE_COL
) -> list[str]:
    """Numeric ``features`` that advance with the calendar: within a user, consecutive snapshots differ by the
    days between them for at least :data:`CLOCK_SHARE` of the pairs. Their distribution shifts whenever the
    user base ages (a closed cohort, a slowing signup rate), so PSI on them is drift by construction."""
    if id_col not in frame.columns or date_col not in frame.columns or frame.empty:
        return []
    ordered = frame.sort_values([id_col, date_col], kind="mergesort")
    same_user = (ordered[id_col] == ordered[id_col].shift()).to_numpy()
    elapsed = pd.to_datetime(ordered[date_col]).diff().dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
    out = []
    for feature in features:
        if feature not in ordered.columns or _is_categorical(ordered[feature]):
            continue
        values = ordered[feature].to_numpy(dtype=np.float64, na_value=np.nan)
        step = np.diff(values, prepend=np.nan)
        pairs = same_user & ~np.isnan(step) & ~np.isnan(elapsed) & (elapsed > 0)
        if pairs.sum() and (np.abs(step[pairs] - elapsed[pairs]) <= 0.5).mean() >= CLOCK_SHARE:
            out.append(feature)
    return out


def drift_report(
    train_df: pd.DataFrame,
    current_df: pd.DataFrame,
    features: Sequence[str],
    *,
    bins: int = 10,
    importance: Mapping[str, float] | None = None,
    clock: Sequence[str] = (),
) -> pd.DataFrame:
    """PSI of each feature in ``current_df`` (e.g. the latest snapshot) against ``train_df``.

    Pass the model's own feature list (``model.features``) so the report covers exactly what the model sees;
    for ``train_df`` re-select the training window recorded in the registry (``train_start``..``train_end``).
    Returns columns ``feature``, ``psi``, ``status``, ``importance`` (``importance``'s share, renormalised over
    the non-clock features; NaN without it) and ``clock``, sorted by PSI descending so the worst offenders
    lead. ``clock`` features (:func:`clock_features`) get status ``"clock"`` and importance 0.
    A feature missing from ``current_df`` raises: a silently missing column is worse than a loud failure.
    """
    if current_df.empty:
        raise EmptySnapshotError("drift_report() got an empty current snapshot")
    missing = [f for f in features if f not in train_df.columns or f not in current_df.columns]
    if missing:
        raise ValueError(f"drift_report(): features missing from the training or current frame: {missing}")
    rows = [{"feature": f, "psi": psi(train_df[f], current_df[f], bins)} for f in features]
    out = pd.DataFrame(rows, columns=["feature", "psi"])
    out["clock"] = out["feature"].isin(list(clock))
    out["status"] = out["psi"].map(psi_status).where(~out["clock"], "clock")
    if importance is None:
        out["importance"] = np.nan
    else:
        weight = out["feature"].map(lambda f: float(importance.get(f, 0.0))).where(~out["clock"], 0.0)
        total = weight.sum()
        out["importance"] = weight / total if total > 0 else weight
    out = out[["feature", "psi", "status", "importance", "clock"]]
    return out.sort_values(["psi", "feature"], ascending=[False, True], ignore_index=True)


def weighted_psi(drift_df: pd.DataFrame) -> float:
    """Importance-weighted PSI of a :func:`drift_report` (clock features weigh 0); NaN without importances."""
    if "importance" not in drift_df.columns or drift_df["importance"].isna().all():
        return math.nan
    return float((drift_df["psi"] * drift_df["importance"].fillna(0.0)).sum())


def realised_outcomes(
    predictions_df: pd.DataFrame,
    labels_df: pd.DataFrame,
    min_age_days: int,
    *,
    as_of: pd.Timestamp | str | None = None,
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    label_col: str = LABEL_COL,
    prob_col: str = "churn_probability",
    by_snapshot: bool = False,
) -> pd.DataFrame:
    """Realised AUC / Brier / ECE of past predictions whose label horizon has passed.

    ``by_snapshot`` gives one row per snapshot too (``window_start == window_end``): calibration judged week by
    week, so a change in the churn rate shows as the ECE of the weeks after it instead of being averaged away.

    Joins stored predictions (``user_id, snapshot_date, churn_probability, model_version[, model_hash]``) to
    the feature table's labels on ``(id_col, date_col)``. Only predictions at least ``min_age_days`` (the
    label horizon) older than ``as_of`` count, and only rows whose label is non-NULL: a prediction whose
    outcome is still open would be scored as "did not churn" and flatter the model. ``as_of`` defaults to the
    latest snapshot in ``labels_df`` (the warehouse's "today"), which keeps the function deterministic.

    Returns one row per ``model_version`` (and ``model_hash`` when present) with :data:`REALISED_COLUMNS`;
    an empty frame when nothing has matured yet.
    """
    for frame, cols, name in (
        (predictions_df, (id_col, date_col, prob_col), "predictions_df"),
        (labels_df, (id_col, date_col, label_col), "labels_df"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"realised_outcomes(): {name} lacks columns {missing}")
    cutoff = pd.Timestamp(as_of) if as_of is not None else pd.to_datetime(labels_df[date_col]).max()
    if pd.isna(cutoff):
        raise EmptySnapshotError("realised_outcomes(): labels_df has no snapshots")
    cutoff -= pd.Timedelta(days=min_age_days)

    preds = predictions_df.copy()
    preds[date_col] = pd.to_datetime(preds[date_col])
    labels = labels_df[[id_col, date_col, label_col]].copy()
    labels[date_col] = pd.to_datetime(labels[date_col])
    labels = labels[labels[label_col].notna()]
    joined = preds[preds[date_col] <= cutoff].merge(labels, on=[id_col, date_col], how="inner")

    group_cols = [c for c in ("model_version", "model_hash") if c in joined.columns]
    if by_snapshot:
        group_cols.append(date_col)
    rows = []
    for key, part in joined.groupby(group_cols, sort=True) if group_cols else [((), joined)]:
        key_tuple = key if isinstance(key, tuple) else (key,)
        y = as_binary_labels(part[label_col], label_col)
        p = part[prob_col].to_numpy(dtype=np.float64)
        row = dict(zip(group_cols, key_tuple, strict=True))
        row.update(
            n=len(y),
            positives=int(y.sum()),
            roc_auc=float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else math.nan,
            brier=float(brier_score_loss(y, p)),
            ece=expected_calibration_error(y, p),
            window_start=part[date_col].min(),
            window_end=part[date_col].max(),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=REALISED_COLUMNS)


@dataclass(frozen=True)
class RetrainThresholds:
    """When to retrain. Defaults are deliberately conservative: retraining is cheap, but a model swap
    changes every risk list, so it should happen for a reason someone can read.

    * ``weighted_psi``: retrain when the importance-weighted PSI (:func:`weighted_psi`) reaches this (0.10, the
      conventional "moderate" line, for the model's inputs as a whole);
    * ``psi`` / ``min_importance``: a feature carrying at least ``min_importance`` of the model's importance
      counts as drifted at or above this PSI (0.25 = the conventional "drifted" line); without importances
      (a model trained before they were stored) every non-clock feature counts;
    * ``max_drifted_features``: retrain when *more* than this many such features drifted (0 = any);
    * clock features (``drift_df["clock"]``) never count;
    * ``min_roc_auc`` / ``max_ece`` / ``max_brier``: realised-performance floors/ceilings (None = unused);
    * ``min_realised_n``: ignore realised metrics computed on fewer matured predictions than this.
    """

    psi: float = PSI_MODERATE
    weighted_psi: float = PSI_STABLE
    min_importance: float = 0.05
    max_drifted_features: int = 0
    min_roc_auc: float | None = 0.70
    max_ece: float | None = 0.05
    max_brier: float | None = None
    min_realised_n: int = 500


def retrain_needed(
    drift_df: pd.DataFrame,
    realised_metrics: pd.DataFrame | Mapping[str, float] | None,
    thresholds: RetrainThresholds | Mapping[str, float] | None = None,
) -> tuple[bool, list[str]]:
    """Decide whether to retrain; returns ``(needed, reasons)``, one readable reason per tripped rule.

    ``drift_df`` is :func:`drift_report`'s output; ``realised_metrics`` is :func:`realised_outcomes`'s output
    (every row is checked, e.g. one per deployed version) or a single ``{"roc_auc": .., "ece": .., "n": ..}``
    mapping. ``thresholds`` overrides :class:`RetrainThresholds` fields by name. Realised metrics on fewer
    than ``min_realised_n`` rows are skipped rather than trusted.
    """
    if thresholds is None:
        limits = RetrainThresholds()
    elif isinstance(thresholds, RetrainThresholds):
        limits = thresholds
    else:
        unknown = set(thresholds) - set(asdict(RetrainThresholds()))
        if unknown:
            raise ValueError(f"unknown retrain thresholds: {sorted(unknown)}")
        limits = RetrainThresholds(**thresholds)

    reasons: list[str] = []
    counted = drift_df[~drift_df["clock"]] if "clock" in drift_df.columns else drift_df
    if "importance" in counted.columns and counted["importance"].notna().any():
        counted = counted[counted["importance"] >= limits.min_importance]
    drifted = counted[counted["psi"] >= limits.psi]
    if len(drifted) > limits.max_drifted_features:
        detail = ", ".join(
            f"{r.feature} (psi {r.psi:.2f}"
            + (
                f", importance {r.importance:.2f})"
                if "importance" in r._fields and not math.isnan(r.importance)
                else ")"
            )
            for r in drifted.itertuples()
        )
        reasons.append(f"{len(drifted)} feature(s) that matter drifted beyond psi {limits.psi:g}: {detail}")
    overall = weighted_psi(drift_df)
    if not math.isnan(overall) and overall >= limits.weighted_psi:
        reasons.append(f"importance-weighted psi {overall:.3f} >= {limits.weighted_psi:g}")

    if realised_metrics is None:
        records: list[Mapping] = []
    elif isinstance(realised_metrics, pd.DataFrame):
        records = realised_metrics.to_dict("records")
    else:
        records = [realised_metrics]
    for rec in records:
        n = rec.get("n")
        if n is not None and n < limits.min_realised_n:
            continue
        who = rec.get("model_version", "model")
        checks = (
            ("roc_auc", limits.min_roc_auc, lambda v, t: v < t, "<"),
            ("ece", limits.max_ece, lambda v, t: v > t, ">"),
            ("brier", limits.max_brier, lambda v, t: v > t, ">"),
        )
        for metric, limit, tripped, sign in checks:
            value = rec.get(metric)
            if limit is None or value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if tripped(value, limit):
                reasons.append(f"{who} realised {metric} {value:.3f} {sign} {limit:g} (n={n})")
    return bool(reasons), reasons
