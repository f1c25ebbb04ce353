"""Experiment readout table: every feature-flag experiment in the warehouse, analysed the same way.

``experiment_results_table`` turns the unit-level frame built in SQL (``ml_experiment_units``: one row per
user x experiment) into the ``experiment_results`` dbt model: for each experiment, the rows of
:meth:`ExperimentResult.to_frame` (one per variant vs control) plus the plain-language ``summary``, with
``trustworthy`` and ``notes`` reflecting everything found before the analysis too:

* users exposed to more than one variant are excluded and counted; above
  :data:`~pintel.experiments.analysis.MAX_LEAK_SHARE` of the units the result is untrustworthy (the same
  rule ``analyze_experiment`` applies when it sees the leak itself);
* users whose conversion window is not yet complete are left out (counted in the notes);
* an experiment that cannot be analysed (no control variant, a single variant, an empty arm) yields one
  row with ``trustworthy = False`` and the reason, instead of failing the whole model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from pintel.experiments.analysis import MAX_LEAK_SHARE, ExperimentResult, analyze_experiment

SCHEMA: dict[str, str] = {
    "experiment": "varchar",
    "variant": "varchar",
    "control": "varchar",
    "outcome": "varchar",
    "conversion_event": "varchar",
    "window_days": "integer",
    "exposure_start_date": "date",
    "exposure_end_date": "date",
    "units": "integer",
    "control_units": "integer",
    "excluded_multi_variant_units": "integer",
    "excluded_incomplete_units": "integer",
    "conversion": "double",
    "control_conversion": "double",
    "lift_abs": "double",
    "lift_abs_ci_low": "double",
    "lift_abs_ci_high": "double",
    "lift_rel": "double",
    "lift_rel_ci_low": "double",
    "lift_rel_ci_high": "double",
    "p_value": "double",
    "cuped_lift_abs": "double",
    "cuped_ci_low": "double",
    "cuped_ci_high": "double",
    "cuped_p_value": "double",
    "cuped_theta": "double",
    "variance_reduction": "double",
    "seq_ci_low": "double",
    "seq_ci_high": "double",
    "seq_p_value": "double",
    "srm_p_value": "double",
    "srm_detected": "boolean",
    "trustworthy": "boolean",
    "notes": "varchar",
    "summary": "varchar",
}
"""The ``experiment_results`` table's columns and SQL types, in order -- experiment_results_served's contract,
which a test compares with this dict; the dbt model returns ``typed_relation(session, frame, SCHEMA)``."""
COLUMNS = list(SCHEMA)


def experiment_results_table(
    units: pd.DataFrame,
    *,
    control: str = "control",
    conversion_event: str = "checkout_completed",
    window_days: int = 14,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    min_units: int = 100,
) -> pd.DataFrame:
    """One row per experiment x non-control variant (columns ``COLUMNS``).

    Args:
        units: one row per user x experiment with ``experiment``, ``user_id``, ``variant``,
            ``variants_seen``, ``converted`` (null = window incomplete), ``pre_active_days``, and
            optionally ``exposure_date``.
        control: the control variant's label, the same for every experiment.
        conversion_event, window_days: describe the outcome (they label the rows; the SQL computed it).
    """
    needed = ["experiment", "user_id", "variant", "variants_seen", "converted", "pre_active_days"]
    missing = [c for c in needed if c not in units.columns]
    if missing:
        raise ValueError(f"units frame lacks columns {missing}")
    frames = []
    for name, group in units.groupby("experiment", sort=True):
        frames.append(
            _readout(
                str(name),
                group,
                control=control,
                alpha=alpha,
                srm_alpha=srm_alpha,
                min_units=min_units,
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    out["conversion_event"] = conversion_event
    out["window_days"] = int(window_days)
    return out.reindex(columns=COLUMNS)


def readout_status(table: pd.DataFrame) -> tuple[str, str]:
    """``(status, reason)`` of ``experiment_results`` for ``ml_model_status`` (:func:`pintel.status.guarded`)."""
    if table.empty:
        return "skipped", "0 experiments: no user was exposed to a feature-flag variant in the events"
    return "ok", f"{table['experiment'].nunique()} experiment(s), {len(table)} variant readout(s)"


def _readout(
    name: str, df: pd.DataFrame, *, control: str, alpha: float, srm_alpha: float, min_units: int
) -> pd.DataFrame:
    notes: list[str] = []
    reasons: list[str] = []
    n_all = len(df)
    leaked = df["variants_seen"].fillna(1).astype(int) > 1
    n_leaked = int(leaked.sum())
    if n_leaked:
        share = n_leaked / n_all
        notes.append(f"excluded {n_leaked} units ({share:.2%}) exposed to more than one variant")
        if share > MAX_LEAK_SHARE:
            reasons.append(f"{share:.1%} of units were exposed to more than one variant (assignment leak)")
    df = df.loc[~leaked.to_numpy()]
    incomplete = df["converted"].isna()
    n_incomplete = int(incomplete.sum())
    if n_incomplete:
        notes.append(f"left out {n_incomplete} units whose conversion window is not complete yet")
    dates = pd.to_datetime(df["exposure_date"]) if "exposure_date" in df else pd.Series(dtype="datetime64[ns]")
    base = {
        "experiment": name,
        "exposure_start_date": dates.min() if dates.notna().any() else pd.NaT,
        "exposure_end_date": dates.max() if dates.notna().any() else pd.NaT,
        "excluded_multi_variant_units": n_leaked,
        "excluded_incomplete_units": n_incomplete,
    }
    analysed = df.loc[~incomplete.to_numpy()].assign(converted=lambda d: d["converted"].astype(bool))
    try:
        result = analyze_experiment(
            analysed,
            unit_col="user_id",
            variant_col="variant",
            outcome_col="converted",
            pre_col="pre_active_days",
            control=control,
            alpha=alpha,
            srm_alpha=srm_alpha,
            experiment=name,
            min_units=min_units,
        )
    except ValueError as exc:
        text = f"could not analyse experiment '{name}': {exc}"
        row = {**base, "control": control, "units": len(analysed), "trustworthy": False}
        row["notes"] = "; ".join([text, *notes])
        row["summary"] = f"Experiment {name}: {text}."
        return pd.DataFrame([row])
    result = _with_findings(result, reasons, notes)
    frame = result.to_frame()
    frame["cuped_theta"] = result.cuped_theta if result.cuped_theta is not None else np.nan
    frame["summary"] = f"Experiment {name}: {result.summary()}"
    for key, value in base.items():
        frame[key] = value
    return frame


def _with_findings(result: ExperimentResult, reasons: list[str], notes: list[str]) -> ExperimentResult:
    """Fold what was found before the analysis into the result, so ``summary`` and ``to_frame`` carry it."""
    all_reasons = [*result.reasons, *reasons]
    return replace(result, reasons=all_reasons, notes=[*notes, *result.notes], trustworthy=not all_reasons)
