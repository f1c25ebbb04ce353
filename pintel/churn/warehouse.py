"""The churn tables of the warehouse as pure functions: DataFrames in, DataFrame out.

:mod:`pintel.churn.dbt_models` pulls the rows each dbt Python model needs into pandas and calls one of
these, so the logic is tested without dbt:

* :func:`train_registry`    ``ml_model_registry``: v1 + v2 trained on a time split of the labelled snapshots;
  one row per version with the fitted model as a BLOB, the windows and the training notes (e.g. an all-NULL
  feature dropped) in ``params``.
* :func:`predict_snapshot`  ``churn_predictions`` v1 / v2: the latest model of a version scores the snapshot
  ``dim_dates`` names; appended per ``snapshot_date`` so the history accumulates.
* :func:`evaluate_holdout`  ``ml_churn_metrics``: v1, v2, the recency baseline and (when the simulator's
  truth is loaded and defines the same label) the oracle on the held-out *test* window, which is later than
  everything the models saw; writes the calibration plot.
* :func:`monitoring_frame`  ``ml_churn_monitoring``: PSI drift of the scored snapshot against the training
  window, realised performance of matured predictions and the retrain decision with its reasons.

Rules that belong to the warehouse are read from it, never recomputed here: the snapshot to score is
``dim_dates.churn_scoring_snapshot_date``, churn dates are ``dim_users.churn_date``, and the label horizon
(``churn_horizon_days``) arrives as an argument from the models' yml ``meta``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pintel.churn.columns import CHURN_DATE_COL, DATE_COL, ID_COL, LABEL_COL, ORACLE_COL, EmptySnapshotError
from pintel.churn.evaluation import MIN_LEAD_DAYS, calibration_plot, evaluate
from pintel.churn.monitor import (
    RetrainThresholds,
    clock_features,
    drift_report,
    realised_outcomes,
    retrain_needed,
    weighted_psi,
)
from pintel.churn.operating import RetentionCosts
from pintel.churn.registry import latest_registry, load_model_from_registry
from pintel.churn.schemas import METRICS_SCHEMA, MONITORING_SCHEMA, PREDICTION_SCHEMA, REGISTRY_SCHEMA
from pintel.churn.scoring import score
from pintel.churn.split import time_split
from pintel.churn.train import MODEL_CLASSES, baseline_score, fit_baseline, train_models

__all__ = [
    "N_THREADS",
    "SEED",
    "VERSIONS",
    "evaluate_holdout",
    "insufficient_history",
    "monitoring_frame",
    "predict_snapshot",
    "score_holdout",
    "train_registry",
    "training_frame",
]

VERSIONS = tuple(MODEL_CLASSES)
SEED = 0
#: dbt runs two models at a time on a 2-core box, and OpenMP busy-waiting made multi-threaded fits an order
#: of magnitude slower there, so the warehouse models run single-threaded.
N_THREADS = 1


def as_date(value: Any) -> dt.date | None:
    """``value`` as a ``datetime.date`` (None for NULL / NaT), whatever the warehouse handed back."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).dt.normalize()


def training_frame(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Feature rows joined to their label; only rows whose outcome over the label horizon is observable.

    Only ``churned_30d`` comes over from the label table: ``churn_kind`` / ``is_horizon_complete`` describe
    the future and would leak it if feature discovery picked them up. Lineage columns (``*loaded_at``: when
    a row was built, not what the user did) are dropped too.
    """
    keys = [ID_COL, DATE_COL]
    right = labels[[*keys, LABEL_COL]].copy()
    left = features.drop(columns=[c for c in features.columns if c.endswith("loaded_at")])
    left[DATE_COL], right[DATE_COL] = _dates(left[DATE_COL]), _dates(right[DATE_COL])
    out = left.merge(right, on=keys, how="inner", validate="one_to_one")
    out = out[out[LABEL_COL].notna()].copy()
    out[LABEL_COL] = out[LABEL_COL].astype("int8")
    return out.sort_values([DATE_COL, ID_COL], kind="mergesort", ignore_index=True)


def insufficient_history(training: pd.DataFrame) -> str | None:
    """Why no model can be trained on ``training`` yet, or None when it can.

    "Not yet" states of a young warehouse (no labelled rows, fewer than 3 labelled snapshots, a window with a
    single class) are data facts, not bugs; anything else ``train_models`` raises stays an error.
    """
    try:
        windows = time_split(training)
    except EmptySnapshotError as exc:
        return str(exc)
    except ValueError as exc:
        if "at least 3 distinct" in str(exc):
            return str(exc)
        raise
    for name, window in zip(("train", "calibrate"), windows[:2], strict=True):
        if window[LABEL_COL].nunique() < 2:
            return f"the {name} window has a single class ({int(window[LABEL_COL].iloc[0])})"
    return None


def train_registry(
    training: pd.DataFrame,
    *,
    seed: int = SEED,
    n_threads: int | None = N_THREADS,
    trained_at: pd.Timestamp | str | None = None,
    costs: RetentionCosts | None = None,
) -> pd.DataFrame:
    """Train v1 and v2 on ``training`` (:func:`training_frame`) and return their registry rows.

    ``costs`` (the dbt vars ``churn_cost_false_positive`` / ``_negative``) set the high-risk threshold.

    Columns are :data:`REGISTRY_SCHEMA`: the library's registry row plus the three window bounds and sizes,
    the training notes (``warnings``, also copied into ``params["warnings"]``: e.g. "feature column
    'seats' is entirely NULL in the training window; dropped") and the model BLOB. The windows are recorded so
    evaluation and drift re-select exactly the rows the model was fitted, calibrated and tested on.
    """
    # "note": an all-NULL column is recorded in trained.warnings, not warned about (see discover_features)
    trained = train_models(
        training, seed=seed, n_threads=n_threads, trained_at=trained_at, costs=costs, on_all_null="note"
    )
    rows = trained.registry_rows(include_blob=True)
    windows = {"train": trained.train, "calibrate": trained.calibrate, "test": trained.test}
    for name, frame in windows.items():
        dates = _dates(frame[DATE_COL])
        rows[f"{name}_start"], rows[f"{name}_end"] = dates.min().date(), dates.max().date()
        rows[f"n_{name}"] = len(frame)
    notes = list(trained.warnings)
    rows["warnings"] = json.dumps(notes)
    rows["params"] = [json.dumps({**json.loads(p), "warnings": notes}, sort_keys=True) for p in rows["params"]]
    return rows[list(REGISTRY_SCHEMA)]


def predict_snapshot(
    registry: pd.DataFrame, snapshot: pd.DataFrame, version: str, *, n_threads: int | None = N_THREADS
) -> pd.DataFrame:
    """Score one snapshot's feature rows with the latest registered model of ``version``, adjusted to the
    newest fully labelled snapshots' churn rate (:meth:`~pintel.churn.model.ChurnModel.for_serving`).

    Columns are :data:`PREDICTION_SCHEMA` (``snapshot_date`` as ``datetime.date``). Raises
    :class:`EmptySnapshotError` when the snapshot has no users and ``LookupError`` without a model.
    """
    if snapshot.empty:
        raise EmptySnapshotError("the scoring snapshot has no users")
    model = load_model_from_registry(registry, version).for_serving()
    scored = score(model, snapshot, reasons=True, n_reasons=3, n_threads=n_threads)
    scored[DATE_COL] = _dates(scored[DATE_COL]).dt.date
    return scored.sort_values([ID_COL], kind="mergesort", ignore_index=True)[list(PREDICTION_SCHEMA)]


def _window(frame: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    dates = _dates(frame[DATE_COL])
    return frame[((dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))).to_numpy()]


def _reference(registry: pd.DataFrame) -> pd.Series:
    """The latest registry row whose windows define train / test (v2's, else the only version's)."""
    latest = latest_registry(registry).set_index("version")
    return latest.loc["v2"] if "v2" in latest.index else latest.iloc[0]


def _with_oracle(test: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame | None:
    """``test`` with the simulator's ``oracle_probability``, or None when the truth cannot be its oracle.

    The truth is the ceiling only for the label it was simulated for: it must cover every test row and its
    realised label must be the warehouse's on every one of them. A warehouse built with another
    ``churn_horizon_days`` than the simulation (or on other data) therefore gets no oracle row, instead of a
    probability of a different event scored against this label.
    """
    oracle = truth[[ID_COL, DATE_COL, ORACLE_COL, LABEL_COL]].rename(columns={LABEL_COL: "_truth_label"})
    oracle[DATE_COL] = _dates(oracle[DATE_COL])
    test = test.assign(**{DATE_COL: _dates(test[DATE_COL])})
    joined = test.merge(oracle, on=[ID_COL, DATE_COL], how="left", validate="one_to_one")
    same_label = joined["_truth_label"].notna() & (joined["_truth_label"] == joined[LABEL_COL])
    if not (joined[ORACLE_COL].notna() & same_label).all():
        return None
    return joined.drop(columns="_truth_label")


def score_holdout(
    registry: pd.DataFrame, labelled: pd.DataFrame, *, truth: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict[str, str], dict[str, str | None]]:
    """The registry's held-out *test* window of ``labelled``, with one probability column per scorer.

    Returns ``(test, score_cols, hashes)``: ``score_cols`` maps scorer (``v1``, ``v2``, ``baseline`` and, when
    ``truth`` is this label's oracle on every test row, ``oracle``) to its column; ``hashes`` maps model
    versions to their hash. The baseline is refitted on the registry's train window (deterministic isotonic
    fit). ``truth`` has ``user_id, snapshot_date, oracle_probability, churned_30d`` (the simulator's label).
    """
    latest = latest_registry(registry).set_index("version")
    ref = _reference(registry)
    test = _window(labelled, ref["test_start"], ref["test_end"]).reset_index(drop=True)
    if test.empty:
        raise EmptySnapshotError("the registry's test window holds no labelled rows")
    score_cols: dict[str, str] = {}
    hashes: dict[str, str | None] = {}
    for version in VERSIONS:
        if version in latest.index:
            model = load_model_from_registry(registry, version, latest.loc[version, "model_hash"])
            test[f"p_{version}"] = model.predict_proba(test)
            score_cols[version], hashes[version] = f"p_{version}", latest.loc[version, "model_hash"]
    train = _window(labelled, ref["train_start"], ref["train_end"])
    if "days_since_last_active" in train.columns and train["days_since_last_active"].notna().any():
        test["p_baseline"] = baseline_score(test, fit_baseline(train, label_col=LABEL_COL)).to_numpy()
        score_cols["baseline"] = "p_baseline"
    with_oracle = _with_oracle(test, truth) if truth is not None and not truth.empty else None
    if with_oracle is not None:
        test = with_oracle
        score_cols["oracle"] = ORACLE_COL
    return test, score_cols, hashes


def evaluate_holdout(
    registry: pd.DataFrame,
    labelled: pd.DataFrame,
    *,
    horizon_days: int,
    truth: pd.DataFrame | None = None,
    churn_date: pd.DataFrame | None = None,
    plot_path: str | Path | None = None,
    min_lead_days: int = MIN_LEAD_DAYS,
    costs: RetentionCosts | None = None,
) -> pd.DataFrame:
    """Evaluate the latest v1 / v2, the recency baseline and the oracle on the held-out test window.

    ``labelled`` is :func:`training_frame`'s output; the test window (``test_start``..``test_end`` from the
    registry) lies after the calibrate window, so nothing in it was seen when fitting or calibrating. Scores
    come from :func:`score_holdout`. ``churn_date`` (``dim_users``: ``user_id, churn_date``) enables
    ``early_flag_share`` over the label horizon ``horizon_days`` with ``min_lead_days`` of notice. With
    ``plot_path`` the reliability plot of every scorer is written there. ``costs`` add the operating point
    (high-risk threshold, ``recall_14d``, band precision, cost vs flagging nobody / everybody) for every
    scorer at the same threshold. Columns: :data:`METRICS_SCHEMA`.
    """
    test, score_cols, hashes = score_holdout(registry, labelled, truth=truth)
    ref = _reference(registry)
    if churn_date is not None:
        test = test.merge(churn_date[[ID_COL, CHURN_DATE_COL]], on=ID_COL, how="left")
    metrics = evaluate(test, LABEL_COL, score_cols, horizon_days=horizon_days, min_lead_days=min_lead_days, costs=costs)
    plot = None
    if plot_path is not None:
        plot = str(calibration_plot(test, LABEL_COL, score_cols, plot_path))
    test_dates = _dates(test[DATE_COL])
    metrics["model_hash"] = metrics["model"].map(hashes)
    metrics["train_start"], metrics["train_end"] = as_date(ref["train_start"]), as_date(ref["train_end"])
    metrics["test_start"], metrics["test_end"] = test_dates.min().date(), test_dates.max().date()
    metrics["calibration_plot"] = plot
    return metrics[list(METRICS_SCHEMA)]


def _latest_week(weekly: pd.DataFrame) -> pd.DataFrame:
    """The newest matured snapshot of the newest model hash, named for the retrain reasons: calibration error
    of the latest week counts on its own, so a recent change is not averaged away by older weeks."""
    if weekly.empty:
        return weekly
    latest = weekly.sort_values(["window_end", "model_hash"], kind="mergesort").tail(1).copy()
    latest["model_version"] = latest["model_version"] + " (snapshot " + latest["window_end"].dt.date.astype(str) + ")"
    return latest


def _realised_rows(base: dict[str, Any], check: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            **base,
            "check_type": check,
            "model_hash": r["model_hash"],
            **{k: r[k] for k in ("n", "positives", "roc_auc", "brier", "ece")},
            "window_start": as_date(r["window_start"]),
            "window_end": as_date(r["window_end"]),
        }
        for r in frame.to_dict("records")
    ]


def _thresholds(value: RetrainThresholds | Mapping[str, Any] | None) -> RetrainThresholds:
    if isinstance(value, RetrainThresholds):
        return value
    return RetrainThresholds(**{k: v for k, v in (value or {}).items() if v is not None})


def monitoring_frame(
    registry: pd.DataFrame,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    predictions: Mapping[str, pd.DataFrame],
    *,
    horizon_days: int,
    thresholds: RetrainThresholds | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Drift, realised performance and the retrain decision per model version (:data:`MONITORING_SCHEMA`).

    * ``drift`` rows: PSI of each model feature in the latest *scored* snapshot of that version against the
      registry's training window of the current model.
    * ``drift`` rows carry the model's ``importance`` of the feature (clock features: status ``clock``, 0).
    * ``realised`` rows: :func:`~pintel.churn.monitor.realised_outcomes` of the stored predictions at least
      one label horizon (``horizon_days``) old whose label is now known, one row per model hash that made them;
      ``realised_snapshot`` rows: the same per snapshot (``window_start == window_end``), so ECE on realised
      outcomes is visible week by week.
    * ``decision`` row: ``psi`` holds the importance-weighted PSI; ``retrain_needed`` (drift of the features
      that matter, realised AUC / ECE pooled and of the latest matured week) and the readable ``reasons``
      (``; ``-separated); copied onto every
      row of the version so any slice of the table carries it. A version without a trained model or
      without predictions gets a ``no_model`` / ``no_predictions`` decision row that says so.

    ``features`` needs the training window and the scored snapshots (the whole table is fine); ``labels``
    is ``fct_churn_labels`` (``user_id, snapshot_date, churned_30d``).
    """
    limits = _thresholds(thresholds)
    latest = latest_registry(registry).set_index("version") if not registry.empty else pd.DataFrame()
    feats = features.copy()
    feats[DATE_COL] = _dates(feats[DATE_COL])
    rows: list[dict[str, Any]] = []
    for version in VERSIONS:
        if version not in latest.index:
            reason = "no trained model in ml_model_registry (not enough labelled history yet)"
            rows.append({"check_type": "no_model", "model_version": version, "retrain_needed": True, "reasons": reason})
            continue
        reg = latest.loc[version]
        preds = predictions.get(version)
        base = {
            "model_version": version,
            "model_hash": reg["model_hash"],
            "train_start": as_date(reg["train_start"]),
            "train_end": as_date(reg["train_end"]),
        }
        if preds is None or preds.empty:
            reason = f"{version} has no stored predictions yet"
            rows.append({**base, "check_type": "no_predictions", "retrain_needed": False, "reasons": reason})
            continue
        scored_date = _dates(preds[DATE_COL]).max()
        train = _window(feats, reg["train_start"], reg["train_end"])
        current = feats[feats[DATE_COL] == scored_date]
        model_features = json.loads(reg["features"])
        importance = json.loads(reg["params"]).get("feature_importance")
        clock = clock_features(feats, model_features)
        drift = drift_report(train, current, model_features, importance=importance, clock=clock)
        realised = realised_outcomes(preds, labels, min_age_days=horizon_days)
        weekly = realised_outcomes(preds, labels, min_age_days=horizon_days, by_snapshot=True)
        needed, reasons = retrain_needed(drift, pd.concat([realised, _latest_week(weekly)]), limits)
        version_rows = [
            {
                **base,
                "check_type": "drift",
                "feature": r.feature,
                "psi": r.psi,
                "psi_status": r.status,
                "importance": r.importance,
            }
            for r in drift.itertuples()
        ]
        for check, frame in (("realised", realised), ("realised_snapshot", weekly)):
            version_rows += _realised_rows(base, check, frame)
        version_rows.append({**base, "check_type": "decision", "psi": weighted_psi(drift)})
        text = "; ".join(reasons) if reasons else "no retrain rule tripped"
        if realised.empty:
            text += f" (no predictions {horizon_days}+ days old with a known outcome yet)"
        for row in version_rows:
            row.update(scored_snapshot_date=scored_date.date(), retrain_needed=needed, reasons=text)
        rows.extend(version_rows)
    return pd.DataFrame(rows, columns=list(MONITORING_SCHEMA))
