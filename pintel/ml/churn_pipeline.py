"""Glue between the warehouse and :mod:`pintel.ml.churn` for the dbt Python models in ``models/ml/``.

The dbt models stay a few lines: they name their inputs with ``dbt.ref`` / ``dbt.source`` (dbt needs the
calls in the model file to know the lineage) and hand DuckDB relations to one ``run_*`` adapter here. Each
adapter pulls only the rows it needs into pandas and calls a *pure* function (DataFrames in, DataFrame out)
that carries the logic and is unit-tested without dbt:

* :func:`train_registry`    ``ml_model_registry``: v1 + v2 trained on a time split of the labelled snapshots;
  one row per version with the fitted model as a BLOB, the windows and the training notes (e.g. an all-NULL
  feature dropped) in ``params``.
* :func:`predict_snapshot`  ``churn_predictions`` v1 / v2: the latest model of a version scores the expected
  scoring snapshot; appended per ``snapshot_date`` so the history accumulates.
* :func:`evaluate_holdout`  ``ml_churn_metrics``: v1, v2, the recency baseline and (when the simulator's
  truth is loaded) the oracle on the held-out *test* window, which is later than everything the models saw;
  writes the calibration plot.
* :func:`monitoring_frame`  ``ml_churn_monitoring``: PSI drift of the scored snapshot against the training
  window, realised performance of matured predictions and the retrain decision with its reasons.

Failure policy (what a reader of the served tables can rely on):

* Not enough labelled history to train yet (fewer than 3 labelled weekly snapshots, or a window with a single
  class): the registry stays as it was, predictions stay empty, and ``ml_churn_monitoring`` says so in a
  ``no_model`` row with the reason. A young warehouse builds; nothing pretends to be a model.
* A model exists but the scoring snapshot has no users: the last good predictions stay in the table and the
  ``churn_scores`` contract models serve them with ``is_stale = true``; on the very first run there is nothing
  to fall back on and the model fails loudly (:class:`~pintel.ml.churn.EmptySnapshotError`).

Everything runs single-threaded (``n_threads=1``): dbt runs two models at a time on a 2-core box, and OpenMP
busy-waiting made multi-threaded fits an order of magnitude slower there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pintel.ml.churn import (
    CHURN_DATE_COL,
    DATE_COL,
    ID_COL,
    LABEL_COL,
    ORACLE_COL,
    EmptySnapshotError,
    RetrainThresholds,
    baseline_score,
    calibration_plot,
    drift_report,
    evaluate,
    fit_baseline,
    load_model_from_registry,
    realised_outcomes,
    retrain_needed,
    score,
    time_split,
    train_models,
)

__all__ = [
    "METRICS_SCHEMA",
    "MONITORING_SCHEMA",
    "PREDICTION_SCHEMA",
    "REGISTRY_SCHEMA",
    "SEED",
    "VERSIONS",
    "churn_dates",
    "evaluate_holdout",
    "expected_snapshot_date",
    "insufficient_history",
    "latest_registry",
    "monitoring_frame",
    "predict_snapshot",
    "reports_dir",
    "run_metrics",
    "run_monitoring",
    "run_predictions",
    "run_registry",
    "score_holdout",
    "table_exists",
    "train_registry",
    "training_frame",
]

VERSIONS = ("v1", "v2")
SEED = 0
N_THREADS = 1
MIN_AGE_DAYS = 30

#: Output schemas (column -> DuckDB type). The adapters cast to these, so a table's types never depend on
#: what pandas inferred (an all-NULL column, an empty frame, datetime64 vs date).
REGISTRY_SCHEMA: dict[str, str] = {
    "version": "varchar",
    "model_hash": "varchar",
    "trained_at": "timestamp",
    "train_start": "date",
    "train_end": "date",
    "calibrate_start": "date",
    "calibrate_end": "date",
    "test_start": "date",
    "test_end": "date",
    "n_train": "bigint",
    "n_calibrate": "bigint",
    "n_test": "bigint",
    "features": "varchar",
    "params": "varchar",
    "warnings": "varchar",
    "model_blob": "blob",
}
PREDICTION_SCHEMA: dict[str, str] = {
    "user_id": "varchar",
    "snapshot_date": "date",
    "churn_probability": "double",
    "risk_band": "varchar",
    "reason_1": "varchar",
    "reason_2": "varchar",
    "reason_3": "varchar",
    "model_version": "varchar",
    "model_hash": "varchar",
}
METRICS_SCHEMA: dict[str, str] = {
    "model": "varchar",
    "roc_auc": "double",
    "pr_auc": "double",
    "brier": "double",
    "ece": "double",
    "precision_top10": "double",
    "recall_top10": "double",
    "early_flag_share": "double",
    "n": "bigint",
    "positives": "bigint",
    "model_hash": "varchar",
    "train_start": "date",
    "train_end": "date",
    "test_start": "date",
    "test_end": "date",
    "calibration_plot": "varchar",
}
MONITORING_SCHEMA: dict[str, str] = {
    "check_type": "varchar",
    "model_version": "varchar",
    "model_hash": "varchar",
    "feature": "varchar",
    "psi": "double",
    "psi_status": "varchar",
    "n": "bigint",
    "positives": "bigint",
    "roc_auc": "double",
    "brier": "double",
    "ece": "double",
    "window_start": "date",
    "window_end": "date",
    "scored_snapshot_date": "date",
    "train_start": "date",
    "train_end": "date",
    "retrain_needed": "boolean",
    "reasons": "varchar",
}


# --------------------------------------------------------------------------------------------------------
# Pure functions (DataFrames in, DataFrames out)
# --------------------------------------------------------------------------------------------------------


def _as_date(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).dt.normalize()


def training_frame(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Feature rows joined to their label; only rows whose 30-day outcome is observable.

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
) -> pd.DataFrame:
    """Train v1 and v2 on ``training`` (:func:`training_frame`) and return their registry rows.

    Columns are :data:`REGISTRY_SCHEMA`: the library's registry row plus the three window bounds and sizes,
    the training notes (``warnings``, also copied into ``params["warnings"]``: e.g. "feature column
    'seats' is entirely NULL in the training window; dropped") and the model BLOB. The windows are recorded so
    evaluation and drift re-select exactly the rows the model was fitted, calibrated and tested on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in trained.warnings; a dbt log line would be lost anyway
        trained = train_models(training, seed=seed, n_threads=n_threads, trained_at=trained_at)
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


def latest_registry(registry: pd.DataFrame) -> pd.DataFrame:
    """The most recently trained row per version (ties broken by hash, so the choice is deterministic)."""
    if registry.empty:
        return registry
    ordered = registry.sort_values(["version", "trained_at", "model_hash"], kind="mergesort")
    return ordered.groupby("version", sort=True).tail(1).reset_index(drop=True)


def expected_snapshot_date(
    dates: pd.DataFrame, *, inactivity_days: int = 30, override: str | dt.date | None = None
) -> dt.date | None:
    """The snapshot the prediction models should score now.

    ``override`` (the dbt var ``churn_scoring_snapshot_date``) wins. Otherwise the latest Monday of the
    calendar (``dim_dates``: ``date_day``, ``iso_day_of_week``) at least ``inactivity_days`` after its first
    day, the same rule ``fct_user_features`` uses. Taken from the calendar rather than from the feature table,
    so a Monday on which the feature table has no users shows up as an empty snapshot (served stale) instead
    of silently serving an older week as current. None when the calendar holds no such Monday yet.
    """
    if override not in (None, "", "None", "none"):
        return _as_date(override)
    if dates.empty:
        return None
    days = _dates(dates["date_day"])
    first = days.min()
    mondays = days[(dates["iso_day_of_week"].to_numpy() == 1) & (days >= first + pd.Timedelta(days=inactivity_days))]
    return None if mondays.empty else mondays.max().date()


def predict_snapshot(
    registry: pd.DataFrame, snapshot: pd.DataFrame, version: str, *, n_threads: int | None = N_THREADS
) -> pd.DataFrame:
    """Score one snapshot's feature rows with the latest registered model of ``version``.

    Columns are :data:`PREDICTION_SCHEMA` (``snapshot_date`` as ``datetime.date``). Raises
    :class:`EmptySnapshotError` when the snapshot has no users and ``LookupError`` without a model.
    """
    if snapshot.empty:
        raise EmptySnapshotError("the scoring snapshot has no users")
    model = load_model_from_registry(registry, version)
    scored = score(model, snapshot, reasons=True, n_reasons=3, n_threads=n_threads)
    scored[DATE_COL] = _dates(scored[DATE_COL]).dt.date
    return scored.sort_values([ID_COL], kind="mergesort", ignore_index=True)[list(PREDICTION_SCHEMA)]


def churn_dates(
    activity: pd.DataFrame, cancellations: pd.DataFrame, last_date: Any, *, inactivity_days: int = 30
) -> pd.DataFrame:
    """Each churned user's churn date, by the warehouse's churn definition (evaluation only: it is the future).

    ``activity`` has one row per active user-day (``user_id``, ``activity_date``), ``cancellations`` the first
    cancellation per user (``user_id``, ``cancelled_date``). Silent churn is dated at the first active day
    followed by ``inactivity_days`` days without activity that all lie inside the data (``<= last_date``);
    the churn date is the earlier of that and the cancellation. Same rule as the simulator's truth, so it is
    checked against ``users.parquet`` in the tests. Feeds ``early_flag_share``.
    """
    last = pd.Timestamp(last_date)
    act = activity[[ID_COL, "activity_date"]].copy()
    act["activity_date"] = _dates(act["activity_date"])
    act = act.drop_duplicates().sort_values([ID_COL, "activity_date"], kind="mergesort")
    next_day = act.groupby(ID_COL, sort=False)["activity_date"].shift(-1)
    gap = (next_day - act["activity_date"]).dt.days
    window = pd.Timedelta(days=inactivity_days)
    closed = gap > inactivity_days
    open_end = next_day.isna() & (act["activity_date"] + window <= last)
    silent = act[closed | open_end].groupby(ID_COL)["activity_date"].min().rename("silent_date")
    cancel = cancellations[[ID_COL, "cancelled_date"]].copy()
    cancel["cancelled_date"] = _dates(cancel["cancelled_date"])
    cancel = cancel.groupby(ID_COL)["cancelled_date"].min()
    both = pd.concat([silent, cancel], axis=1)
    out = both.min(axis=1).rename(CHURN_DATE_COL).dropna().reset_index()
    out.columns = [ID_COL, CHURN_DATE_COL]
    return out.sort_values(ID_COL, ignore_index=True)


def _window(frame: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    dates = _dates(frame[DATE_COL])
    return frame[((dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))).to_numpy()]


def _reference(registry: pd.DataFrame) -> pd.Series:
    """The latest registry row whose windows define train / test (v2's, else the only version's)."""
    latest = latest_registry(registry).set_index("version")
    return latest.loc["v2"] if "v2" in latest.index else latest.iloc[0]


def score_holdout(
    registry: pd.DataFrame, labelled: pd.DataFrame, *, truth: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict[str, str], dict[str, str | None]]:
    """The registry's held-out *test* window of ``labelled``, with one probability column per scorer.

    Returns ``(test, score_cols, hashes)``: ``score_cols`` maps scorer (``v1``, ``v2``, ``baseline`` and, when
    ``truth`` covers every test row, ``oracle``) to its column; ``hashes`` maps model versions to their hash.
    The baseline is refitted on the registry's train window (deterministic isotonic fit).
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
    if truth is not None and not truth.empty:
        oracle = truth[[ID_COL, DATE_COL, ORACLE_COL]].copy()
        oracle[DATE_COL] = _dates(oracle[DATE_COL])
        test[DATE_COL] = _dates(test[DATE_COL])
        test = test.merge(oracle, on=[ID_COL, DATE_COL], how="left", validate="one_to_one")
        if test[ORACLE_COL].notna().all():
            score_cols["oracle"] = ORACLE_COL
    return test, score_cols, hashes


def evaluate_holdout(
    registry: pd.DataFrame,
    labelled: pd.DataFrame,
    *,
    truth: pd.DataFrame | None = None,
    churn_date: pd.DataFrame | None = None,
    plot_path: str | Path | None = None,
) -> pd.DataFrame:
    """Evaluate the latest v1 / v2, the recency baseline and the oracle on the held-out test window.

    ``labelled`` is :func:`training_frame`'s output; the test window (``test_start``..``test_end`` from the
    registry) lies after the calibrate window, so nothing in it was seen when fitting or calibrating. Scores
    come from :func:`score_holdout`; ``truth`` (the simulator's ``user_id, snapshot_date,
    oracle_probability``) adds the ``oracle`` row when it covers every test row; ``churn_date``
    (:func:`churn_dates`) enables ``early_flag_share``. With ``plot_path`` the reliability plot of every scorer
    is written there. Columns: :data:`METRICS_SCHEMA`.
    """
    test, score_cols, hashes = score_holdout(registry, labelled, truth=truth)
    ref = _reference(registry)
    if churn_date is not None:
        test = test.merge(churn_date[[ID_COL, CHURN_DATE_COL]], on=ID_COL, how="left")
    metrics = evaluate(test, LABEL_COL, score_cols)
    plot = None
    if plot_path is not None:
        plot = str(calibration_plot(test, LABEL_COL, score_cols, plot_path))
    test_dates = _dates(test[DATE_COL])
    metrics["model_hash"] = metrics["model"].map(hashes)
    metrics["train_start"], metrics["train_end"] = _as_date(ref["train_start"]), _as_date(ref["train_end"])
    metrics["test_start"], metrics["test_end"] = test_dates.min().date(), test_dates.max().date()
    metrics["calibration_plot"] = plot
    return metrics[list(METRICS_SCHEMA)]


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
    thresholds: RetrainThresholds | Mapping[str, Any] | None = None,
    min_age_days: int = MIN_AGE_DAYS,
) -> pd.DataFrame:
    """Drift, realised performance and the retrain decision per model version (:data:`MONITORING_SCHEMA`).

    * ``drift`` rows: PSI of each model feature in the latest *scored* snapshot of that version against the
      registry's training window of the current model.
    * ``realised`` rows: :func:`~pintel.ml.churn.realised_outcomes` of the stored predictions at least
      ``min_age_days`` old whose label is now known, one row per model hash that made them.
    * ``decision`` row: ``retrain_needed`` and the readable ``reasons`` (``; ``-separated); copied onto every
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
            "train_start": _as_date(reg["train_start"]),
            "train_end": _as_date(reg["train_end"]),
        }
        if preds is None or preds.empty:
            reason = f"{version} has no stored predictions yet"
            rows.append({**base, "check_type": "no_predictions", "retrain_needed": False, "reasons": reason})
            continue
        scored_date = _dates(preds[DATE_COL]).max()
        model_features = json.loads(reg["features"])
        train = _window(feats, reg["train_start"], reg["train_end"])
        current = feats[feats[DATE_COL] == scored_date]
        drift = drift_report(train, current, model_features)
        realised = realised_outcomes(preds, labels, min_age_days=min_age_days)
        needed, reasons = retrain_needed(drift, realised, limits)
        version_rows = [
            {**base, "check_type": "drift", "feature": r.feature, "psi": r.psi, "psi_status": r.status}
            for r in drift.itertuples()
        ]
        for r in realised.to_dict("records"):
            version_rows.append(
                {
                    **base,
                    "check_type": "realised",
                    "model_hash": r["model_hash"],
                    **{k: r[k] for k in ("n", "positives", "roc_auc", "brier", "ece")},
                    "window_start": _as_date(r["window_start"]),
                    "window_end": _as_date(r["window_end"]),
                }
            )
        version_rows.append({**base, "check_type": "decision"})
        text = "; ".join(reasons) if reasons else "no retrain rule tripped"
        if realised.empty:
            text += f" (no predictions {min_age_days}+ days old with a known outcome yet)"
        for row in version_rows:
            row.update(scored_snapshot_date=scored_date.date(), retrain_needed=needed, reasons=text)
        rows.extend(version_rows)
    return pd.DataFrame(rows, columns=list(MONITORING_SCHEMA))


# --------------------------------------------------------------------------------------------------------
# dbt adapters (DuckDB relations in, a typed relation out)
# --------------------------------------------------------------------------------------------------------


def typed(session: Any, frame: pd.DataFrame, schema: Mapping[str, str]) -> Any:
    """``frame`` as a DuckDB relation with exactly ``schema``'s columns, order and types."""
    frame = frame.reindex(columns=list(schema))
    for col in schema:  # NaN in an object column (or an all-missing float column) becomes a real NULL
        if frame[col].dtype == object or frame[col].isna().all():
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    cols = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in schema.items())
    return session.from_df(frame).project(cols)


def table_exists(session: Any, schema: str, name: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return bool(session.execute(query, [schema, name]).fetchone()[0])


def reports_dir() -> Path:
    """``$PINTEL_REPORTS`` (default ``./reports``), like :class:`pintel.settings.Settings`."""
    return Path(os.environ.get("PINTEL_REPORTS", "reports")).resolve()


def _labelled(features_rel: Any, labels_rel: Any) -> pd.DataFrame:
    return training_frame(features_rel.df(), labels_rel.project("user_id, snapshot_date, churned_30d").df())


def run_registry(session: Any, features_rel: Any, labels_rel: Any, *, seed: int = SEED) -> Any:
    """``ml_model_registry``: new rows for this run's models, or none while history is insufficient."""
    labelled = _labelled(features_rel, labels_rel)
    if insufficient_history(labelled) is not None:
        return typed(session, pd.DataFrame(columns=list(REGISTRY_SCHEMA)), REGISTRY_SCHEMA)
    return typed(session, train_registry(labelled, seed=seed), REGISTRY_SCHEMA)


def _registry_rows(registry_rel: Any, version: str) -> pd.DataFrame:
    return latest_registry(registry_rel.filter(f"version = '{version}'").df())


def run_predictions(
    session: Any,
    version: str,
    registry_rel: Any,
    features_rel: Any,
    dates_rel: Any,
    existing: Any | None,
    *,
    override: str | None = None,
    inactivity_days: int | str = 30,
) -> Any:
    """``churn_predictions_<version>``: score the expected snapshot, or keep the last good predictions.

    ``existing`` is ``dbt.this`` on incremental runs (None on the first). Returns the rows to append (the
    incremental strategy replaces that snapshot_date's rows). See the module docstring for the failure policy.
    """
    registry = _registry_rows(registry_rel, version)
    keep = f"select * from {existing} where false" if existing is not None else None
    if registry.empty:  # no model yet: nothing to serve, and ml_churn_monitoring says why
        return session.sql(keep) if keep else typed(session, pd.DataFrame(), PREDICTION_SCHEMA)
    calendar = dates_rel.project("date_day, iso_day_of_week").df()
    expected = expected_snapshot_date(calendar, inactivity_days=int(inactivity_days), override=override)
    snapshot = pd.DataFrame()
    if expected is not None:
        snapshot = features_rel.filter(f"snapshot_date = date '{expected}'").df()
    try:
        return typed(session, predict_snapshot(registry, snapshot, version), PREDICTION_SCHEMA)
    except EmptySnapshotError:
        if keep is None:
            raise EmptySnapshotError(
                f"scoring snapshot {expected} has no users and there are no earlier {version} predictions to serve"
            ) from None
        return session.sql(keep)  # last good predictions stay; churn_scores flags them stale


def run_metrics(
    session: Any,
    registry_rel: Any,
    features_rel: Any,
    labels_rel: Any,
    user_daily_rel: Any,
    events_rel: Any,
    truth_rel: Any | None,
    *,
    inactivity_days: int | str = 30,
    plot_path: str | Path | None = None,
) -> Any:
    """``ml_churn_metrics``: :func:`evaluate_holdout` of the latest models; the calibration PNG is written to
    ``plot_path`` (default ``$PINTEL_REPORTS/churn/calibration.png``)."""
    registry = latest_registry(registry_rel.df())
    if registry.empty:
        return typed(session, pd.DataFrame(), METRICS_SCHEMA)
    labelled = _labelled(features_rel, labels_rel)
    activity = user_daily_rel.project("user_id, activity_date").df()
    cancels = events_rel.filter("event_name = 'subscription_cancelled'").aggregate(
        "user_id, min(event_date) as cancelled_date", "user_id"
    )
    last_date = user_daily_rel.aggregate("max(activity_date)").fetchone()[0]
    dates = churn_dates(activity, cancels.df(), last_date, inactivity_days=int(inactivity_days))
    truth = truth_rel.project(f"{ID_COL}, {DATE_COL}, {ORACLE_COL}").df() if truth_rel is not None else None
    path = Path(plot_path) if plot_path is not None else reports_dir() / "churn" / "calibration.png"
    metrics = evaluate_holdout(registry, labelled, truth=truth, churn_date=dates, plot_path=path)
    return typed(session, metrics, METRICS_SCHEMA)


def run_monitoring(
    session: Any,
    registry_rel: Any,
    features_rel: Any,
    labels_rel: Any,
    predictions: Mapping[str, Any],
    *,
    thresholds: Mapping[str, Any] | None = None,
) -> Any:
    """``ml_churn_monitoring``: :func:`monitoring_frame` over the stored predictions of each version."""
    registry = latest_registry(registry_rel.df())
    columns = "user_id, snapshot_date, churn_probability, model_version, model_hash"
    preds = {version: rel.project(columns).df() for version, rel in predictions.items()}
    labels = labels_rel.project("user_id, snapshot_date, churned_30d").df()
    frame = monitoring_frame(registry, features_rel.df(), labels, preds, thresholds=thresholds)
    return typed(session, frame, MONITORING_SCHEMA)
